package dave

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/quaverbot/quaver/internal/daveyjs"
	"github.com/quaverbot/quaver/voice/dave/gateway"
)

// startDavey runs js/davey_member.js, which plays DAVE members with
// @snazzah/davey.
func startDavey(t *testing.T) *daveyjs.Proc {
	t.Helper()
	return daveyjs.Start(context.Background(), t, filepath.Join("js", "davey_member.js"))
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// clientMsg is a message a member sends to the gateway.
type clientMsg struct {
	from uint64
	op   int
	body []byte // binary body or JSON "d"
}

// recorder is the Sender of our sessions in the test call.
type recorder struct {
	user uint64
	out  *[]clientMsg
}

func (r recorder) SendJSON(_ context.Context, op int, d any) error {
	b, err := json.Marshal(d)
	*r.out = append(*r.out, clientMsg{r.user, op, b})
	return err
}

func (r recorder) SendBinary(_ context.Context, op byte, p []byte) error {
	*r.out = append(*r.out, clientMsg{r.user, int(op), bytes.Clone(p)})
	return nil
}

// testCall is one voice call: the gateway, our sessions and davey members,
// with messages delivered in order until the call is quiet.
type testCall struct {
	t       *testing.T
	channel uint64
	gw      *gateway.Gateway
	d       *daveyjs.Proc
	ours    map[uint64]*Session
	davey   map[uint64]string // user → davey member name
	known   map[uint64][]string
	first   uint64 // this user's messages are delivered first in each batch
	pending []clientMsg
	invalid int // opcode 31 messages seen
}

func newCall(t *testing.T, d *daveyjs.Proc, channel uint64) *testCall {
	gw, err := gateway.New(channel)
	if err != nil {
		t.Fatal(err)
	}
	return &testCall{t: t, channel: channel, gw: gw, d: d, ours: map[uint64]*Session{}, davey: map[uint64]string{}, known: map[uint64][]string{}}
}

func (c *testCall) users() []uint64 {
	var u []uint64
	for id := range c.ours {
		u = append(u, id)
	}
	for id := range c.davey {
		u = append(u, id)
	}
	slices.Sort(u)
	return u
}

func (c *testCall) name(u uint64) string {
	return strconv.FormatUint(c.channel, 10) + "/" + strconv.FormatUint(u, 10)
}

// join connects a user: ours (our Session) or a davey member.
func (c *testCall) join(u uint64, ours bool) {
	c.t.Helper()
	others := c.users()
	c.gw.Join(u)
	if ours {
		s := NewSession(Config{UserID: u, ChannelID: c.channel})
		c.ours[u] = s
		if err := s.Start(context.Background(), recorder{u, &c.pending}, 1); err != nil {
			c.t.Fatal(err)
		}
	} else {
		c.davey[u] = c.name(u)
		c.d.Must(c.t, map[string]any{"op": "create", "name": c.name(u), "user": strconv.FormatUint(u, 10), "channel": strconv.FormatUint(c.channel, 10)})
	}
	c.known[u] = append(c.known[u], strconv.FormatUint(u, 10))
	var ids []string
	for _, o := range others {
		ids = append(ids, strconv.FormatUint(o, 10))
	}
	var batch []gateway.Message
	if len(ids) > 0 {
		batch = append(batch, gateway.Message{To: u, Op: OpClientsConnect, JSON: map[string]any{"user_ids": ids}})
	}
	for _, o := range others {
		batch = append(batch, gateway.Message{To: o, Op: OpClientsConnect, JSON: map[string]any{"user_ids": []string{strconv.FormatUint(u, 10)}}})
	}
	batch = append(batch, gateway.Message{To: u, Op: OpExternalSender, Binary: c.gw.ExternalSender()})
	if !ours {
		// davey: the key package follows the external sender (Session Description order).
		c.deliver(batch)
		r := c.d.Must(c.t, map[string]any{"op": "keyPackage", "name": c.name(u)})
		c.pending = append(c.pending, clientMsg{u, OpKeyPackage, unhex(c.t, r.Data)})
		c.pump()
		return
	}
	c.deliver(batch)
	c.pump()
}

// leave disconnects a user.
func (c *testCall) leave(u uint64) {
	c.t.Helper()
	delete(c.ours, u)
	delete(c.davey, u)
	out, err := c.gw.Leave(u)
	if err != nil {
		c.t.Fatal(err)
	}
	var batch []gateway.Message
	for _, o := range c.users() {
		batch = append(batch, gateway.Message{To: o, Op: OpClientDisconnect, JSON: map[string]any{"user_id": strconv.FormatUint(u, 10)}})
	}
	c.deliver(append(batch, out...))
	c.pump()
}

// deliver hands gateway messages to members, c.first's first.
func (c *testCall) deliver(msgs []gateway.Message) {
	c.t.Helper()
	slices.SortStableFunc(msgs, func(a, b gateway.Message) int {
		switch {
		case a.To == c.first && b.To != c.first:
			return -1
		case b.To == c.first && a.To != c.first:
			return 1
		}
		return 0
	})
	for _, m := range msgs {
		body := m.Binary
		if m.Binary == nil {
			body, _ = json.Marshal(m.JSON)
		}
		if s, ok := c.ours[m.To]; ok {
			if err := s.Handle(context.Background(), recorder{m.To, &c.pending}, m.Op, m.Binary != nil, body); err != nil {
				c.t.Logf("our session %d refused op %d: %v", m.To, m.Op, err)
			}
			continue
		}
		if _, ok := c.davey[m.To]; ok {
			c.daveyHandle(m.To, m.Op, body)
		}
	}
}

// daveyHandle does what discord.js does with a gateway message for davey.
func (c *testCall) daveyHandle(u uint64, op int, body []byte) {
	c.t.Helper()
	name := c.name(u)
	ready := func(tid int) {
		if tid != 0 {
			b, _ := json.Marshal(map[string]any{"transition_id": tid})
			c.pending = append(c.pending, clientMsg{u, OpReadyForTransition, b})
		}
	}
	var j struct {
		TID     int      `json:"transition_id"`
		Version int      `json:"protocol_version"`
		Epoch   uint64   `json:"epoch"`
		UserIDs []string `json:"user_ids"`
		UserID  string   `json:"user_id"`
	}
	if body != nil && body[0] == '{' {
		_ = json.Unmarshal(body, &j)
	}
	switch op {
	case OpClientsConnect:
		c.known[u] = append(c.known[u], j.UserIDs...)
	case OpClientDisconnect:
		c.known[u] = slices.DeleteFunc(c.known[u], func(s string) bool { return s == j.UserID })
	case OpExternalSender:
		c.d.Must(c.t, map[string]any{"op": "externalSender", "name": name, "data": hex.EncodeToString(body)})
	case OpProposals:
		r, err := c.d.Call(c.t, map[string]any{"op": "proposals", "name": name, "revoke": body[0] == 1, "data": hex.EncodeToString(body[1:]), "users": c.known[u]})
		if err != nil {
			c.t.Logf("davey %d refused proposals: %v", u, err)
			return
		}
		if r.Commit != "" {
			c.pending = append(c.pending, clientMsg{u, OpCommitWelcome, append(unhex(c.t, r.Commit), unhex(c.t, r.Welcome)...)})
		}
	case OpAnnounceCommit:
		tid := int(body[0])<<8 | int(body[1])
		if _, err := c.d.Call(c.t, map[string]any{"op": "commit", "name": name, "data": hex.EncodeToString(body[2:])}); err != nil {
			c.t.Fatalf("davey %d could not process the commit: %v", u, err)
		}
		ready(tid)
	case OpWelcome:
		tid := int(body[0])<<8 | int(body[1])
		if _, err := c.d.Call(c.t, map[string]any{"op": "welcome", "name": name, "data": hex.EncodeToString(body[2:])}); err != nil {
			c.t.Fatalf("davey %d could not process the welcome: %v", u, err)
		}
		ready(tid)
	case OpPrepareTransition:
		if j.Version == 0 {
			c.d.Must(c.t, map[string]any{"op": "passthrough", "name": name, "on": true, "expiry": 10})
		}
		ready(j.TID)
	case OpExecuteTransition:
		if c.gw.Version() > 0 {
			c.d.Must(c.t, map[string]any{"op": "passthrough", "name": name, "on": false, "expiry": 10})
		}
	case OpPrepareEpoch:
		if j.Epoch == 1 {
			c.d.Must(c.t, map[string]any{"op": "reinit", "name": name, "user": strconv.FormatUint(u, 10), "channel": strconv.FormatUint(c.channel, 10)})
			c.d.Must(c.t, map[string]any{"op": "externalSender", "name": name, "data": hex.EncodeToString(c.gw.ExternalSender())})
			r := c.d.Must(c.t, map[string]any{"op": "keyPackage", "name": name})
			c.pending = append(c.pending, clientMsg{u, OpKeyPackage, unhex(c.t, r.Data)})
		}
	}
}

// pump delivers client messages to the gateway and its answers to members
// until nothing is left.
func (c *testCall) pump() {
	c.t.Helper()
	for n := 0; len(c.pending) > 0; n++ {
		if n > 10000 {
			c.t.Fatal("the call never quiets down")
		}
		m := c.pending[0]
		c.pending = c.pending[1:]
		var out []gateway.Message
		var err error
		switch m.op {
		case OpKeyPackage:
			out, err = c.gw.KeyPackage(m.from, m.body)
		case OpCommitWelcome:
			out, err = c.gw.CommitWelcome(m.from, m.body)
			if err != nil {
				c.t.Logf("gateway dropped the commit of %d: %v", m.from, err)
				err = nil
			}
		case OpReadyForTransition:
			var j transitionJSON
			_ = json.Unmarshal(m.body, &j)
			out = c.gw.Ready(m.from, uint16(j.TransitionID))
		case OpInvalidCommitWelcome:
			c.invalid++
			out, err = c.gw.InvalidCommitWelcome(m.from)
		}
		if err != nil {
			c.t.Fatalf("gateway: op %d from %d: %v", m.op, m.from, err)
		}
		c.deliver(out)
	}
}

// agree checks that every member is in the gateway's epoch with the same
// members, epoch authenticator and voice privacy code.
func (c *testCall) agree() {
	c.t.Helper()
	epoch := c.gw.Epoch()
	var wantUsers []string
	for _, u := range c.gw.Members() {
		wantUsers = append(wantUsers, strconv.FormatUint(u, 10))
	}
	slices.Sort(wantUsers)
	var auth []byte
	var code string
	check := func(who string, e uint64, a []byte, cd string, users []string) {
		c.t.Helper()
		slices.Sort(users)
		if e != epoch {
			c.t.Fatalf("%s is in epoch %d, the gateway in %d", who, e, epoch)
		}
		if !slices.Equal(users, wantUsers) {
			c.t.Fatalf("%s sees members %v, the gateway %v", who, users, wantUsers)
		}
		if auth == nil {
			auth, code = a, cd
		} else if !bytes.Equal(a, auth) || cd != code {
			c.t.Fatalf("%s disagrees on the epoch authenticator / privacy code (%s vs %s)", who, cd, code)
		}
	}
	for u, s := range c.ours {
		var users []string
		for _, m := range s.Members() {
			users = append(users, strconv.FormatUint(m, 10))
		}
		check("our "+strconv.FormatUint(u, 10), s.Epoch(), s.EpochAuthenticator(), s.VoicePrivacyCode(), users)
	}
	for u, n := range c.davey {
		r := c.d.Must(c.t, map[string]any{"op": "state", "name": n})
		if r.Epoch == nil {
			c.t.Fatalf("davey %d reported no epoch", u)
		}
		check("davey "+strconv.FormatUint(u, 10), *r.Epoch, unhex(c.t, r.Auth), r.Code, r.Users)
	}
	if len(code) != 30 {
		c.t.Fatalf("voice privacy code %q is not 30 digits", code)
	}
}

// frames sends an Opus-like frame from every member to every other member
// and checks it arrives intact; encrypted reports whether our frames must be
// protocol frames.
func (c *testCall) frames(encrypted bool) {
	c.t.Helper()
	payload := func(from uint64, i int) []byte {
		return []byte("opus frame " + strconv.FormatUint(from, 10) + " #" + strconv.Itoa(i) + " .......................")
	}
	for i := range 3 {
		for from, s := range c.ours {
			f := payload(from, i)
			enc, err := s.EncryptFrame(nil, f)
			if err != nil {
				c.t.Fatal(err)
			}
			if isProto := bytes.HasSuffix(enc, []byte{0xFA, 0xFA}); isProto != encrypted {
				c.t.Fatalf("our frame encrypted=%v, want %v", isProto, encrypted)
			}
			for to, n := range c.davey {
				r, err := c.d.Call(c.t, map[string]any{"op": "decrypt", "name": n, "from": strconv.FormatUint(from, 10), "data": hex.EncodeToString(enc)})
				if err != nil || !bytes.Equal(unhex(c.t, r.Data), f) {
					c.t.Fatalf("davey %d could not read our frame from %d: %v", to, from, err)
				}
			}
			for to, o := range c.ours {
				if to == from {
					continue
				}
				if got, err := o.DecryptFrame(from, nil, enc); err != nil || !bytes.Equal(got, f) {
					c.t.Fatalf("our %d could not read our %d's frame: %v", to, from, err)
				}
			}
		}
		for from, n := range c.davey {
			f := payload(from, i)
			r := c.d.Must(c.t, map[string]any{"op": "encrypt", "name": n, "data": hex.EncodeToString(f)})
			enc := unhex(c.t, r.Data)
			if encrypted && !bytes.HasSuffix(enc, []byte{0xFA, 0xFA}) {
				c.t.Fatalf("davey %d sent a clear frame in an E2EE call", from)
			}
			for to, s := range c.ours {
				if got, err := s.DecryptFrame(from, nil, enc); err != nil || !bytes.Equal(got, f) {
					c.t.Fatalf("our %d could not read davey %d's frame: %v", to, from, err)
				}
			}
		}
	}
}

// sendAll has every member encrypt one frame now; deliverAll later has every
// other member still in the call decrypt them (keys of the previous epoch
// stay usable for 10 s, for frames in flight during a transition).
func (c *testCall) sendAll(tag string) map[uint64][2][]byte {
	c.t.Helper()
	out := map[uint64][2][]byte{}
	for from, s := range c.ours {
		f := []byte("late frame " + tag + " from " + strconv.FormatUint(from, 10))
		enc, err := s.EncryptFrame(nil, f)
		if err != nil {
			c.t.Fatal(err)
		}
		out[from] = [2][]byte{f, enc}
	}
	for from, n := range c.davey {
		f := []byte("late frame " + tag + " from " + strconv.FormatUint(from, 10))
		r := c.d.Must(c.t, map[string]any{"op": "encrypt", "name": n, "data": hex.EncodeToString(f)})
		out[from] = [2][]byte{f, unhex(c.t, r.Data)}
	}
	return out
}

func (c *testCall) deliverAll(frames map[uint64][2][]byte) {
	c.t.Helper()
	for from, fe := range frames {
		for to, s := range c.ours {
			if to == from {
				continue
			}
			if got, err := s.DecryptFrame(from, nil, fe[1]); err != nil || !bytes.Equal(got, fe[0]) {
				c.t.Fatalf("our %d lost %d's frame from the previous epoch: %v", to, from, err)
			}
		}
		for to, n := range c.davey {
			if to == from {
				continue
			}
			r, err := c.d.Call(c.t, map[string]any{"op": "decrypt", "name": n, "from": strconv.FormatUint(from, 10), "data": hex.EncodeToString(fe[1])})
			if err != nil || !bytes.Equal(unhex(c.t, r.Data), fe[0]) {
				c.t.Fatalf("davey %d lost %d's frame from the previous epoch: %v", to, from, err)
			}
		}
	}
}

// TestInteropDavey runs calls that mix our Session with @snazzah/davey
// members behind the gateway, checking MLS state agreement and frames both
// ways after every change.
func TestInteropDavey(t *testing.T) {
	d := startDavey(t)
	const us, a, b, c3 = 1001, 2002, 3003, 4004

	// twoMembers: davey member a and we join; first's commit wins.
	twoMembers := func(first uint64) func(*testing.T, *testCall) {
		return func(t *testing.T, c *testCall) {
			c.first = first
			c.join(a, false)
			c.join(us, true)
			if c.gw.Epoch() != 1 {
				t.Fatalf("gateway epoch %d after the first commit", c.gw.Epoch())
			}
			c.agree()
			c.frames(true)
		}
	}
	tests := []struct {
		name string
		run  func(t *testing.T, c *testCall)
	}{
		{"two-members/davey-commits", twoMembers(a)},
		{"two-members/we-commit", twoMembers(us)},
		{"four-members", func(t *testing.T, c *testCall) {
			c.first = a
			c.join(a, false)
			c.join(us, true) // davey creates, we join by welcome
			c.join(b, false) // davey commits, we process its commit
			c.agree()
			c.first = us
			c.join(c3, false) // we commit, davey members process ours, c3 joins by our welcome
			c.agree()
			if len(c.gw.Members()) != 4 {
				t.Fatalf("gateway members %v", c.gw.Members())
			}
			c.frames(true)
		}},
		{"member-leaves", func(t *testing.T, c *testCall) {
			c.first = us
			c.join(us, true)
			c.join(a, false)
			c.join(b, false)
			c.agree()
			c.first = a
			late := c.sendAll("before-leave")
			delete(late, b)
			c.leave(b) // davey commits the remove
			c.agree()
			c.deliverAll(late) // in flight across the transition
			c.frames(true)
			c.join(b, false)
			c.first = us
			c.leave(b) // we commit the remove
			c.agree()
			c.frames(true)
		}},
		{"key-package-reset", func(t *testing.T, c *testCall) {
			c.first = us
			c.join(us, true)
			c.join(a, false)
			c.agree()
			// The last other member leaves: sole member reset, new key package.
			c.leave(a)
			if s := c.ours[us]; s.Epoch() != 0 {
				t.Fatalf("after the sole member reset our epoch is %d", s.Epoch())
			}
			c.join(b, false)
			c.agree()
			c.frames(true)
			// An unprocessable welcome: we flag it (op 31), reset and are re-added.
			s := c.ours[us]
			before := c.invalid
			c.first = b
			if err := s.Handle(context.Background(), recorder{us, &c.pending}, OpPrepareEpoch, false, []byte(`{"protocol_version":1,"epoch":1}`)); err != nil {
				t.Fatal(err)
			}
			bad := (&Transition{ID: 77, Data: []byte{0, 2, 0, 0}}).Marshal()
			_ = s.Handle(context.Background(), recorder{us, &c.pending}, OpWelcome, true, bad)
			c.pump()
			if c.invalid == before {
				t.Fatal("a broken welcome was not reported with opcode 31")
			}
			c.agree()
			c.frames(true)
		}},
		{"downgrade-upgrade", func(t *testing.T, c *testCall) {
			c.first = us
			c.join(us, true)
			c.join(a, false)
			c.agree()
			c.frames(true)
			c.deliver(c.gw.Downgrade())
			c.pump()
			if c.ours[us].Encrypting() {
				t.Fatal("still encrypting after the downgrade executed")
			}
			c.frames(false)
			c.deliver(c.gw.Upgrade())
			c.pump()
			c.agree()
			if !c.ours[us].Encrypting() {
				t.Fatal("not encrypting after the upgrade")
			}
			c.frames(true)
		}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.run(t, newCall(t, d, 900001+uint64(i)))
		})
	}
}
