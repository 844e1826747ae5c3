package resolve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"path"
	"strings"
	"syscall"
	"time"
)

// Errors for http(s) links. Their messages are written for users.
var (
	ErrWebPage       = errors.New("that link is a web page, not audio")
	ErrNotAudio      = errors.New("that link is not audio")
	ErrPrivateTarget = errors.New("links to private or local network addresses are not allowed")
	ErrTooManyHops   = errors.New("that link redirects too many times")
)

// maxRedirects bounds redirect chains followed while probing.
const maxRedirects = 5

// sniffLen is how much of the body is read to recognise the format.
const sniffLen = 512

// newHTTPClient returns the probing client: bounded redirects and, unless
// allowPrivate, a dialer that refuses loopback, private, link-local and
// unspecified addresses (checked on the resolved address, so DNS names
// pointing inside are refused too).
func newHTTPClient(allowPrivate bool) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if !allowPrivate {
		d.Control = func(_, address string, _ syscall.RawConn) error {
			host, _, err := net.SplitHostPort(address)
			if err != nil {
				return err
			}
			ip := net.ParseIP(host)
			if ip == nil || !publicIP(ip) {
				return ErrPrivateTarget
			}
			return nil
		}
	}
	tr := &http.Transport{
		DialContext:           d.DialContext,
		TLSHandshakeTimeout:   5 * time.Second,
		ResponseHeaderTimeout: 8 * time.Second,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
	}
	return &http.Client{Transport: tr, CheckRedirect: checkRedirect}
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return ErrTooManyHops
	}
	if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
		return ErrBadScheme
	}
	return nil
}

func publicIP(ip net.IP) bool {
	return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsUnspecified() || ip.IsMulticast() || ip.IsInterfaceLocalMulticast())
}

// probeResult is what probing a link learned.
type probeResult struct {
	contentType string
	title       string
	live        bool
}

// probe checks that rawURL answers with audio (or a container or playlist a
// player can read). It asks with HEAD first and falls back to a GET of the
// first bytes when HEAD is refused or says too little.
func probe(ctx context.Context, hc *http.Client, rawURL string, timeout time.Duration) (probeResult, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	res, err := probeOnce(ctx, hc, http.MethodHead, rawURL)
	if err == nil && res.verdict == verdictAudio {
		return res.probeResult, nil
	}
	if err == nil && res.verdict == verdictReject {
		return probeResult{}, res.err
	}
	// HEAD failed, was refused, or the type needs sniffing: ask with GET.
	res, err = probeOnce(ctx, hc, http.MethodGet, rawURL)
	if err != nil {
		return probeResult{}, err
	}
	if res.verdict != verdictAudio {
		return probeResult{}, res.err
	}
	return res.probeResult, nil
}

type verdict int

const (
	verdictAudio verdict = iota
	verdictReject
	verdictUnsure
)

type probeAnswer struct {
	probeResult
	verdict verdict
	err     error
}

func probeOnce(ctx context.Context, hc *http.Client, method, rawURL string) (probeAnswer, error) {
	req, err := http.NewRequestWithContext(ctx, method, rawURL, nil)
	if err != nil {
		return probeAnswer{}, ErrBadURL
	}
	req.Header.Set("User-Agent", "Quaver/1 (+https://github.com/quaverbot/quaver)")
	req.Header.Set("Icy-MetaData", "1")
	if method == http.MethodGet {
		req.Header.Set("Range", "bytes=0-")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return probeAnswer{}, describeFetchError(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusMethodNotAllowed || resp.StatusCode == http.StatusNotImplemented {
		return probeAnswer{verdict: verdictUnsure}, nil
	}
	if resp.StatusCode >= 400 {
		if method == http.MethodHead && resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusGone {
			// Some servers refuse HEAD with 403/400 but serve GET.
			return probeAnswer{verdict: verdictUnsure}, nil
		}
		return probeAnswer{verdict: verdictReject, err: fmt.Errorf("the server answered %s", statusText(resp))}, nil
	}
	ans := probeAnswer{probeResult: probeResult{title: resp.Header.Get("Icy-Name")}}
	ans.live = ans.title != "" || resp.Header.Get("Icy-Br") != ""
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	ct = strings.ToLower(ct)
	var head []byte
	if method == http.MethodGet {
		buf := make([]byte, sniffLen)
		n, _ := io.ReadFull(resp.Body, buf)
		head = buf[:n]
	}
	ans.contentType = ct
	switch classifyType(ct, head) {
	case verdictAudio:
		ans.verdict = verdictAudio
	case verdictReject:
		ans.verdict = verdictReject
		if isHTMLType(ct) || (ct == "" && looksLikeHTML(head)) {
			ans.err = ErrWebPage
		} else {
			ans.err = fmt.Errorf("%w (the server says it is %s)", ErrNotAudio, ct)
		}
	default:
		ans.verdict = verdictUnsure
		ans.err = fmt.Errorf("%w (the server does not say what it is, and it does not look like a known audio format)", ErrNotAudio)
	}
	return ans, nil
}

func statusText(resp *http.Response) string {
	if t := http.StatusText(resp.StatusCode); t != "" {
		return fmt.Sprintf("%d %s", resp.StatusCode, t)
	}
	return fmt.Sprint(resp.StatusCode)
}

func describeFetchError(err error) error {
	switch {
	case errors.Is(err, ErrPrivateTarget):
		return ErrPrivateTarget
	case errors.Is(err, ErrTooManyHops):
		return ErrTooManyHops
	case errors.Is(err, context.DeadlineExceeded):
		return errors.New("the server did not answer in time")
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("could not find the server %q", dnsErr.Name)
	}
	return fmt.Errorf("could not reach the server: %w", unwrapURLError(err))
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Content types a player can read, beyond audio/* and video/*.
// https://www.iana.org/assignments/media-types/media-types.xhtml
var playableTypes = map[string]bool{
	"application/ogg":               true,
	"application/vnd.apple.mpegurl": true, // HLS
	"application/x-mpegurl":         true,
	"application/dash+xml":          true,
	"application/flac":              true,
	"application/x-flac":            true,
	"application/mp4":               true,
	"application/x-matroska":        true,
	"application/pls+xml":           true,
}

// Content types that say nothing: the body is sniffed instead.
var vagueTypes = map[string]bool{
	"":                           true,
	"application/octet-stream":   true,
	"binary/octet-stream":        true,
	"application/binary":         true,
	"application/download":       true,
	"application/force-download": true,
}

func isHTMLType(ct string) bool {
	return ct == "text/html" || ct == "application/xhtml+xml"
}

func classifyType(ct string, head []byte) verdict {
	switch {
	case strings.HasPrefix(ct, "audio/"), strings.HasPrefix(ct, "video/"), playableTypes[ct]:
		return verdictAudio
	case vagueTypes[ct]:
		if head == nil {
			return verdictUnsure
		}
		if sniffAudio(head) {
			return verdictAudio
		}
		if looksLikeHTML(head) {
			return verdictReject
		}
		return verdictUnsure
	}
	return verdictReject
}

// sniffAudio recognises audio containers by their first bytes.
func sniffAudio(b []byte) bool {
	switch {
	case bytes.HasPrefix(b, []byte("OggS")),
		bytes.HasPrefix(b, []byte("ID3")),
		bytes.HasPrefix(b, []byte("fLaC")),
		bytes.HasPrefix(b, []byte("#EXTM3U")),
		bytes.HasPrefix(b, []byte{0x1A, 0x45, 0xDF, 0xA3}), // EBML: WebM/Matroska
		len(b) >= 12 && bytes.HasPrefix(b, []byte("RIFF")) && string(b[8:12]) == "WAVE",
		len(b) >= 8 && string(b[4:8]) == "ftyp",          // MP4/M4A
		len(b) >= 2 && b[0] == 0xFF && b[1]&0xE0 == 0xE0: // MPEG audio / ADTS AAC frame sync
		return true
	}
	return false
}

func looksLikeHTML(b []byte) bool {
	ct := http.DetectContentType(b)
	return strings.HasPrefix(ct, "text/html") || strings.HasPrefix(ct, "text/xml")
}

// titleFromURL makes a readable title from a link's last path element.
func titleFromURL(u *url.URL) string {
	base := path.Base(u.Path)
	if base == "/" || base == "." || base == "" {
		return u.Host
	}
	if ext := path.Ext(base); len(ext) <= 5 {
		base = strings.TrimSuffix(base, ext)
	}
	base = strings.NewReplacer("_", " ", "+", " ").Replace(base)
	if base == "" {
		return u.Host
	}
	return base
}
