package resolve

import (
	"strings"
	"testing"
	"unicode/utf8"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// FuzzSafeTitle checks that no title, however hostile, comes out able to
// ping everyone, carry invisible characters or exceed its length.
func FuzzSafeTitle(f *testing.F) {
	for _, s := range []string{"@everyone", "**x**", "<@123>", "[a](https://b)", "\u202e\u200b", "# h", "bad\xff", "ab@here", strings.Repeat("0", 39) + " 000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := SafeTitle(in, 40)
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 from %q", in)
		}
		if strings.Contains(out, "@everyone") || strings.Contains(out, "@here") || strings.Contains(out, "://") {
			t.Fatalf("ping or link survived: %q", out)
		}
		if n := utf8.RuneCountInString(strings.NewReplacer("\\", "", "\u200b", "").Replace(out)); n > 41 {
			t.Fatalf("%d characters from a 40 limit: %q", n, out)
		}
		for _, r := range out {
			if r != '\u200b' && (r < 0x20 || r == 0x7f || isInvisible(r)) {
				t.Fatalf("control/invisible %U in %q", r, out)
			}
		}
		for i := 0; i < len(out); i++ {
			if strings.IndexByte("*_~`|[]()<", out[i]) >= 0 && (i == 0 || out[i-1] != '\\') {
				t.Fatalf("unescaped %q at %d in %q", out[i], i, out)
			}
		}
	})
}
