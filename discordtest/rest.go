package discordtest

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"
)

// apiError is a Discord REST error: HTTP status plus the JSON body
// {"message", "code", "errors"}
// (https://discord.com/developers/docs/reference#error-messages).
type apiError struct {
	status     int
	code       int
	message    string
	errors     formErrors
	retryAfter float64
}

func (e *apiError) body() map[string]any {
	b := map[string]any{"message": e.message, "code": e.code}
	if len(e.errors) > 0 {
		b["errors"] = map[string]any(e.errors)
	}
	if e.status == http.StatusTooManyRequests {
		b["retry_after"] = e.retryAfter
		b["global"] = false
	}
	return b
}

func formError(f formErrors) *apiError {
	return &apiError{status: 400, code: codeInvalidFormBody, message: "Invalid Form Body", errors: f}
}

func notFound(code int, msg string) *apiError {
	return &apiError{status: 404, code: code, message: msg}
}

var (
	errUnauthorized       = &apiError{status: 401, code: codeGeneral, message: "401: Unauthorized"}
	errNotFoundRoute      = &apiError{status: 404, code: codeGeneral, message: "404: Not Found"}
	errMethodNotAllowed   = &apiError{status: 405, code: codeGeneral, message: "405: Method Not Allowed"}
	errMissingAccess      = &apiError{status: 403, code: codeMissingAccess, message: "Missing Access"}
	errMissingPermissions = &apiError{status: 403, code: codeMissingPermissions, message: "Missing Permissions"}
	errEmptyMessage       = &apiError{status: 400, code: codeEmptyMessage, message: "Cannot send an empty message"}
	errInvalidJSON        = &apiError{status: 400, code: 50109, message: "The request body contains invalid JSON."}
	errInvalidVersion     = &apiError{status: 400, code: 50041, message: "Invalid API version provided."}
	errUnknownChannelAPI  = notFound(codeUnknownChannel, "Unknown Channel")
	errUnknownGuildAPI    = notFound(codeUnknownGuild, "Unknown Guild")
	errUnknownMessageAPI  = notFound(codeUnknownMessage, "Unknown Message")
	errUnknownWebhookAPI  = notFound(codeUnknownWebhook, "Unknown Webhook")
	errUnknownInterAPI    = notFound(codeUnknownInteraction, "Unknown interaction")
	errUnknownCommandAPI  = notFound(codeUnknownCommand, "Unknown application command")
	errUnknownAppAPI      = notFound(codeUnknownApplication, "Unknown Application")
	errUnknownMemberAPI   = notFound(codeUnknownMember, "Unknown Member")
	errUnknownUserAPI     = notFound(codeUnknownUser, "Unknown User")
	errUnknownVoiceAPI    = notFound(codeNotVoiceMember, "Unknown Voice State")
	errAcknowledged       = &apiError{status: 400, code: codeAlreadyAcknowledged, message: "Interaction has already been acknowledged."}
	errNonTextChannel     = &apiError{status: 400, code: 50008, message: "Cannot send messages in a non-text channel"}
	errWebhookTokenExpire = &apiError{status: 401, code: 50027, message: "Invalid Webhook Token"}
)

// maxBody bounds request bodies (Discord's upload limit for bots).
const maxBody = 25 << 20

// webhookTokenLife is how long interaction tokens work for follow-ups.
const webhookTokenLife = 15 * time.Minute

// request is what a handler sees.
type request struct {
	r    *http.Request
	body []byte
}

func (q *request) path(k string) string { return q.r.PathValue(k) }

// handlerFunc returns a status and JSON value, or an API error.
type handlerFunc func(q *request) (int, any, *apiError)

type rateLimits struct {
	buckets map[string]*rlBucket
}

type rlBucket struct {
	start time.Time
	count int
}

func (r *rateLimits) init() { r.buckets = map[string]*rlBucket{} }

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	type route struct {
		pattern string
		auth    bool
		h       handlerFunc
	}
	routes := []route{
		{"GET /gateway", false, s.getGateway},
		{"GET /gateway/bot", true, s.getGatewayBot},
		{"GET /users/@me", true, s.getMe},
		{"GET /users/{user}", true, s.getUser},
		{"GET /applications/@me", true, s.getApplication},
		{"GET /applications/{app}/commands", true, s.listCommands},
		{"PUT /applications/{app}/commands", true, s.putCommands},
		{"POST /applications/{app}/commands", true, s.createCommand},
		{"GET /applications/{app}/commands/{cmd}", true, s.getCommand},
		{"PATCH /applications/{app}/commands/{cmd}", true, s.editCommand},
		{"DELETE /applications/{app}/commands/{cmd}", true, s.deleteCommand},
		{"GET /applications/{app}/guilds/{guild}/commands", true, s.listCommands},
		{"PUT /applications/{app}/guilds/{guild}/commands", true, s.putCommands},
		{"POST /applications/{app}/guilds/{guild}/commands", true, s.createCommand},
		{"GET /applications/{app}/guilds/{guild}/commands/{cmd}", true, s.getCommand},
		{"PATCH /applications/{app}/guilds/{guild}/commands/{cmd}", true, s.editCommand},
		{"DELETE /applications/{app}/guilds/{guild}/commands/{cmd}", true, s.deleteCommand},
		{"POST /interactions/{id}/{token}/callback", false, s.postCallback},
		{"POST /webhooks/{app}/{token}", false, s.postFollowup},
		{"GET /webhooks/{app}/{token}/messages/{msg}", false, s.getWebhookMessage},
		{"PATCH /webhooks/{app}/{token}/messages/{msg}", false, s.editWebhookMessage},
		{"DELETE /webhooks/{app}/{token}/messages/{msg}", false, s.deleteWebhookMessage},
		{"GET /channels/{channel}", true, s.getChannel},
		{"GET /channels/{channel}/messages", true, s.listMessages},
		{"POST /channels/{channel}/messages", true, s.postMessage},
		{"GET /channels/{channel}/messages/{msg}", true, s.getMessage},
		{"PATCH /channels/{channel}/messages/{msg}", true, s.editMessage},
		{"DELETE /channels/{channel}/messages/{msg}", true, s.deleteMessage},
		{"GET /guilds/{guild}", true, s.getGuild},
		{"GET /guilds/{guild}/channels", true, s.getGuildChannels},
		{"GET /guilds/{guild}/roles", true, s.getGuildRoles},
		{"GET /guilds/{guild}/members/{user}", true, s.getMember},
		{"GET /guilds/{guild}/voice-states/{user}", true, s.getVoiceState},
		{"PATCH /guilds/{guild}/voice-states/@me", true, s.patchVoiceState},
	}
	// paths knows every route without its method, to tell 405 from 404.
	paths := http.NewServeMux()
	seen := map[string]bool{}
	for _, rt := range routes {
		method, path, _ := strings.Cut(rt.pattern, " ")
		mux.Handle(method+" /api/{version}"+path, s.api(path, rt.auth, rt.h))
		if !seen[path] {
			seen[path] = true
			paths.Handle("/api/{version}"+path, http.NotFoundHandler())
		}
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" && websocket.IsWebSocketUpgrade(r) {
			s.serveGateway(w, r)
			return
		}
		if _, pattern := paths.Handler(r); pattern != "" {
			writeJSON(w, errMethodNotAllowed.status, errMethodNotAllowed.body())
			return
		}
		writeJSON(w, errNotFoundRoute.status, errNotFoundRoute.body())
	})
	return mux
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	if status == http.StatusNoContent {
		w.WriteHeader(status)
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"message":"500: Internal Server Error","code":0}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// api wraps a handler with version and auth checks, body reading and the
// rate limit (https://discord.com/developers/docs/topics/rate-limits).
func (s *Server) api(route string, auth bool, h handlerFunc) http.Handler {
	sum := sha1.Sum([]byte(route))
	bucketHash := hex.EncodeToString(sum[:8])
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.PathValue("version") {
		case "v9", "v10":
		default:
			writeJSON(w, errInvalidVersion.status, errInvalidVersion.body())
			return
		}
		if auth && r.Header.Get("Authorization") != "Bot "+s.cfg.Token {
			writeJSON(w, errUnauthorized.status, errUnauthorized.body())
			return
		}
		major := r.PathValue("channel") + r.PathValue("guild") + r.PathValue("token")
		if e := s.rateLimit(w.Header(), r.Method+route+major, bucketHash); e != nil {
			w.Header().Set("Retry-After", strconv.Itoa(int(e.retryAfter+0.999)))
			w.Header().Set("X-RateLimit-Scope", "user")
			writeJSON(w, e.status, e.body())
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
		if err != nil {
			return
		}
		if len(body) > maxBody {
			e := &apiError{status: 413, code: 40005, message: "Request entity too large"}
			writeJSON(w, e.status, e.body())
			return
		}
		status, v, e := h(&request{r: r, body: body})
		if e != nil {
			s.log.Debug("discordtest: REST error", "method", r.Method, "path", r.URL.Path, "status", e.status, "code", e.code, "message", e.message)
			writeJSON(w, e.status, e.body())
			return
		}
		s.log.Debug("discordtest: REST", "method", r.Method, "path", r.URL.Path, "status", status)
		writeJSON(w, status, v)
	})
}

func (s *Server) rateLimit(hdr http.Header, key, hash string) *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	b := s.rl.buckets[key]
	if b == nil || now.Sub(b.start) >= s.cfg.RateLimitWindow {
		b = &rlBucket{start: now}
		s.rl.buckets[key] = b
	}
	reset := b.start.Add(s.cfg.RateLimitWindow)
	after := reset.Sub(now).Seconds()
	hdr.Set("X-RateLimit-Limit", strconv.Itoa(s.cfg.RateLimit))
	hdr.Set("X-RateLimit-Reset", strconv.FormatFloat(float64(reset.UnixMilli())/1000, 'f', 3, 64))
	hdr.Set("X-RateLimit-Reset-After", strconv.FormatFloat(after, 'f', 3, 64))
	hdr.Set("X-RateLimit-Bucket", hash)
	if b.count >= s.cfg.RateLimit {
		hdr.Set("X-RateLimit-Remaining", "0")
		return &apiError{status: 429, message: "You are being rate limited.", retryAfter: after}
	}
	b.count++
	hdr.Set("X-RateLimit-Remaining", strconv.Itoa(s.cfg.RateLimit-b.count))
	return nil
}

// jsonBody returns the JSON of a request: the body itself, or the
// payload_json part of a multipart body along with its files[n] parts.
func (q *request) jsonBody() ([]byte, []Attachment, *apiError) {
	ct, params, _ := mime.ParseMediaType(q.r.Header.Get("Content-Type"))
	if ct != "multipart/form-data" {
		return q.body, nil, nil
	}
	mr := multipart.NewReader(bytes.NewReader(q.body), params["boundary"])
	var payload []byte
	var files []Attachment
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, errInvalidJSON
		}
		data, err := io.ReadAll(io.LimitReader(part, maxBody))
		if err != nil {
			return nil, nil, errInvalidJSON
		}
		switch {
		case part.FormName() == "payload_json":
			payload = data
		case part.FileName() != "":
			files = append(files, Attachment{ID: strconv.Itoa(len(files)), Filename: part.FileName(),
				Size: len(data), ContentType: part.Header.Get("Content-Type")})
		}
	}
	return payload, files, nil
}

// decodeMessage reads a message payload from a JSON or multipart body.
func (q *request) decodeMessage() (*messagePayload, *apiError) {
	raw, files, e := q.jsonBody()
	if e != nil {
		return nil, e
	}
	var p messagePayload
	if len(bytes.TrimSpace(raw)) > 0 && json.Unmarshal(raw, &p) != nil {
		return nil, errInvalidJSON
	}
	p.files = files
	return &p, nil
}

func (s *Server) getGateway(*request) (int, any, *apiError) {
	return 200, map[string]any{"url": s.GatewayURL()}, nil
}

func (s *Server) getGatewayBot(*request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return 200, map[string]any{
		"url": s.GatewayURL(), "shards": s.cfg.Shards,
		"session_start_limit": map[string]any{"total": 1000, "remaining": max(0, 1000-s.gw.identifies),
			"reset_after": 86400000, "max_concurrency": s.cfg.MaxConcurrency},
	}, nil
}

func (s *Server) botUserJSON() map[string]any {
	return map[string]any{"id": s.w.bot.ID, "username": s.w.bot.Username, "discriminator": "0",
		"global_name": nil, "avatar": nil, "bot": true, "verified": true, "mfa_enabled": false,
		"flags": 0, "public_flags": 0, "banner": nil, "accent_color": nil, "locale": "en-US", "email": nil}
}

func (s *Server) getMe(*request) (int, any, *apiError) { return 200, s.botUserJSON(), nil }

func (s *Server) getUser(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.w.users[q.path("user")]
	if u == nil {
		return 0, nil, errUnknownUserAPI
	}
	return 200, u.object(), nil
}

func (s *Server) getApplication(*request) (int, any, *apiError) {
	return 200, map[string]any{"id": s.w.appID, "name": s.w.bot.Username, "icon": nil, "description": "",
		"bot_public": true, "bot_require_code_grant": false, "verify_key": strings.Repeat("0", 64),
		"flags": 0, "team": nil, "bot": s.w.bot.object(), "owner": s.w.bot.object(),
		"summary": "", "rpc_origins": []string{}}, nil
}

// commandScope checks the application and guild of a command route.
func (s *Server) commandScopeLocked(q *request) (string, *apiError) {
	if q.path("app") != s.w.appID {
		return "", errUnknownAppAPI
	}
	gid := q.path("guild")
	if gid != "" {
		g := s.w.guilds[gid]
		if g == nil {
			return "", errUnknownGuildAPI
		}
		if g.members[s.w.bot.ID] == nil {
			return "", errMissingAccess
		}
	}
	return gid, nil
}

func (s *Server) listCommands(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gid, e := s.commandScopeLocked(q)
	if e != nil {
		return 0, nil, e
	}
	list := s.w.commands.list(gid)
	if list == nil {
		list = []*Command{}
	}
	return 200, list, nil
}

// checkCommand validates one created or edited command.
func checkCommand(c *Command) *apiError {
	f := formErrors{}
	validateCommand(f, nil, c)
	if len(f) > 0 {
		return formError(f)
	}
	return nil
}

func decodeCommand(raw []byte) (Command, bool) {
	var in commandInput
	if json.Unmarshal(raw, &in) != nil {
		return Command{}, false
	}
	return in.toCommand()
}

// putCommands is the bulk overwrite: commands matched by name and type keep
// their IDs; the others are deleted.
func (s *Server) putCommands(q *request) (int, any, *apiError) {
	var raws []json.RawMessage
	if json.Unmarshal(q.body, &raws) != nil {
		return 0, nil, errInvalidJSON
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gid, e := s.commandScopeLocked(q)
	if e != nil {
		return 0, nil, e
	}
	f := formErrors{}
	cmds := make([]*Command, 0, len(raws))
	seen := map[string]bool{}
	chat := 0
	for i, raw := range raws {
		c, ok := decodeCommand(raw)
		if !ok {
			return 0, nil, errInvalidJSON
		}
		p := []string{strconv.Itoa(i)}
		validateCommand(f, p, &c)
		key := strconv.Itoa(c.Type) + "/" + c.Name
		if seen[key] {
			f.add(join(p, "name"), "APPLICATION_COMMAND_ALREADY_EXISTS", "Application command names must be unique")
		}
		seen[key] = true
		if c.Type == 1 {
			chat++
		}
		cmds = append(cmds, &c)
	}
	if chat > maxChatInputCommands {
		f.add(nil, "BASE_TYPE_MAX_LENGTH", "Must be 100 or fewer in length.")
	}
	if len(f) > 0 {
		return 0, nil, formError(f)
	}
	old := s.w.commands.list(gid)
	for _, c := range cmds {
		c.ID = ""
		for _, o := range old {
			if o.Name == c.Name && o.Type == c.Type {
				c.ID = o.ID
			}
		}
		s.finishCommandLocked(c, gid)
	}
	s.w.commands.set(gid, cmds)
	s.notifyLocked()
	return 200, cmds, nil
}

func (s *Server) finishCommandLocked(c *Command, gid string) {
	if c.ID == "" {
		c.ID = s.snow.next()
	}
	c.ApplicationID = s.w.appID
	c.GuildID = gid
	c.Version = s.snow.next()
}

func (s *Server) createCommand(q *request) (int, any, *apiError) {
	c, ok := decodeCommand(q.body)
	if !ok {
		return 0, nil, errInvalidJSON
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	gid, e := s.commandScopeLocked(q)
	if e != nil {
		return 0, nil, e
	}
	if e := checkCommand(&c); e != nil {
		return 0, nil, e
	}
	list := s.w.commands.list(gid)
	for i, o := range list {
		if o.Name == c.Name && o.Type == c.Type {
			// Creating an existing name overwrites it (200, not 201).
			c.ID = o.ID
			s.finishCommandLocked(&c, gid)
			list[i] = &c
			s.notifyLocked()
			return 200, &c, nil
		}
	}
	s.finishCommandLocked(&c, gid)
	s.w.commands.set(gid, append(list, &c))
	s.notifyLocked()
	return 201, &c, nil
}

func (s *Server) findCommandLocked(q *request) (string, int, *apiError) {
	gid, e := s.commandScopeLocked(q)
	if e != nil {
		return "", 0, e
	}
	for i, c := range s.w.commands.list(gid) {
		if c.ID == q.path("cmd") {
			return gid, i, nil
		}
	}
	return "", 0, errUnknownCommandAPI
}

func (s *Server) getCommand(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gid, i, e := s.findCommandLocked(q)
	if e != nil {
		return 0, nil, e
	}
	return 200, s.w.commands.list(gid)[i], nil
}

func (s *Server) editCommand(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gid, i, e := s.findCommandLocked(q)
	if e != nil {
		return 0, nil, e
	}
	cur := s.w.commands.list(gid)[i]
	// Apply the partial body over the current command.
	merged := map[string]json.RawMessage{}
	base, _ := json.Marshal(cur)
	_ = json.Unmarshal(base, &merged)
	var patch map[string]json.RawMessage
	if json.Unmarshal(q.body, &patch) != nil {
		return 0, nil, errInvalidJSON
	}
	for k, v := range patch {
		merged[k] = v
	}
	mb, _ := json.Marshal(merged)
	c, ok := decodeCommand(mb)
	if !ok {
		return 0, nil, errInvalidJSON
	}
	if e := checkCommand(&c); e != nil {
		return 0, nil, e
	}
	c.ID = cur.ID
	s.finishCommandLocked(&c, gid)
	s.w.commands.list(gid)[i] = &c
	s.notifyLocked()
	return 200, &c, nil
}

func (s *Server) deleteCommand(q *request) (int, any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gid, i, e := s.findCommandLocked(q)
	if e != nil {
		return 0, nil, e
	}
	list := s.w.commands.list(gid)
	s.w.commands.set(gid, append(list[:i:i], list[i+1:]...))
	s.notifyLocked()
	return 204, nil, nil
}

// Commands returns the commands registered globally (guildID "") or for a
// guild.
func (s *Server) Commands(guildID string) []Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Command
	for _, c := range s.w.commands.list(guildID) {
		out = append(out, *c)
	}
	return out
}

// WaitCommands waits until at least n commands are registered globally
// (guildID "") or for a guild.
func (s *Server) WaitCommands(ctx context.Context, guildID string, n int) error {
	return s.wait(ctx, func() bool { return len(s.w.commands.list(guildID)) >= n })
}
