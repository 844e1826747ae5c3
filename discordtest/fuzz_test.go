package discordtest

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/gorilla/websocket"
)

// fuzzServer is a server with a guild, not listening: process never does
// I/O, so frames can be fed to a connection without a socket.
func fuzzServer() (*Server, string, string) {
	srv := New(Config{})
	g := srv.AddGuild("fuzz")
	vc, _ := srv.AddChannel(g, Channel{Name: "v", Type: ChannelVoice})
	return srv, g, vc
}

func FuzzGatewayInbound(f *testing.F) {
	srv, g, vc := fuzzServer()
	seeds := []string{
		`{"op":1,"d":null}`, `{"op":1,"d":5}`, `{"op":2,"d":{"token":"quaver-test-token","intents":641}}`,
		`{"op":2,"d":{"token":"x","intents":1,"shard":[0,1]}}`, `{"op":6,"d":{"token":"quaver-test-token","session_id":"a","seq":3}}`,
		`{"op":4,"d":{"guild_id":"` + g + `","channel_id":"` + vc + `","self_deaf":true}}`,
		`{"op":4,"d":{"guild_id":"` + g + `","channel_id":null}}`,
		`{"op":8,"d":{"guild_id":"` + g + `","query":"","limit":0}}`, `{"op":8,"d":{"guild_id":["1"],"user_ids":"2"}}`,
		`{"op":3,"d":{"status":"online","since":null,"activities":[],"afk":false}}`,
		`{"op":99}`, `{}`, `[]`, `null`, `{"op":"1"}`, `{"op":2,"d":[]}`, "\x00\xff", `{"op":1}{"op":1}`,
		`{"op":2,"d":{"token":"quaver-test-token","intents":-1}}`, `{"op":2,"d":{"token":"quaver-test-token","intents":1,"shard":[5]}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, data []byte, identified bool) {
		c := newConn(srv, nil, 10, false)
		if identified {
			if code := c.process(websocket.TextMessage, []byte(`{"op":2,"d":{"token":"quaver-test-token","intents":641}}`)); code != 0 {
				t.Fatalf("identify closed with %d", code)
			}
		}
		for range 2 {
			code := c.process(websocket.TextMessage, data)
			c.runAfter()
			if code != 0 {
				if _, known := closeCodes[code]; !known {
					t.Fatalf("unknown close code %d for %q", code, data)
				}
				break
			}
		}
		if _, err := decodeInbound(data); err != nil {
			if code := newConn(srv, nil, 10, false).process(websocket.TextMessage, data); code != CloseDecodeError {
				t.Fatalf("undecodable %q closed with %d, want 4002", data, code)
			}
		}
		// Keep the shared server small.
		srv.mu.Lock()
		for id, s := range srv.gw.sessions {
			if s.conn == c {
				delete(srv.gw.sessions, id)
			}
		}
		srv.mu.Unlock()
	})
}

func FuzzRESTBodies(f *testing.F) {
	seeds := []string{
		`{"content":"hi"}`, `{"content":"","embeds":[{"title":"t","fields":[{"name":"","value":""}]}]}`,
		`{"components":[{"type":1,"components":[{"type":2,"style":1,"custom_id":"a"},{"type":2,"style":5}]}]}`,
		`{"choices":[{"name":"a","value":1}],"flags":64}`, `{"embeds":null}`, `[1,2]`,
		`{"name":"play","description":"p","options":[{"type":1,"name":"a","description":"b","options":[{"type":2,"name":"c","description":"d"}]}]}`,
		`{"name":"x","type":2,"description":"no"}`, `{"default_member_permissions":"abc"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"payload_json\"\r\n\r\n{\"content\":\"x\"}\r\n--b\r\nContent-Disposition: form-data; name=\"files[0]\"; filename=\"a.txt\"\r\n\r\nabc\r\n--b--\r\n"), "multipart/form-data; boundary=b")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		r, err := http.NewRequest("POST", "https://discord.com/", strings.NewReader(""))
		if err != nil {
			t.Skip()
		}
		r.Header.Set("Content-Type", contentType)
		q := &request{r: r, body: body}
		if p, e := q.decodeMessage(); e == nil {
			_ = p.validate([]string{"data"})
			m := &Message{}
			p.apply(m)
			if _, err := json.Marshal(m); err != nil {
				t.Fatalf("recorded message does not marshal: %v", err)
			}
		}
		if c, ok := decodeCommand(body); ok {
			fe := formErrors{}
			validateCommand(fe, nil, &c)
			if _, err := json.Marshal(fe); err != nil {
				t.Fatal(err)
			}
		}
	})
}
