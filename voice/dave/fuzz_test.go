package dave

import (
	"context"
	"log/slog"
	"testing"

	"github.com/quaverbot/quaver/voice/dave/gateway"
	"github.com/quaverbot/quaver/voice/mls"
)

// FuzzHandle feeds arbitrary bodies for every opcode to a session that has a
// group: nothing panics, and the session still answers afterwards.
func FuzzHandle(f *testing.F) {
	gw, err := gateway.New(77)
	if err != nil {
		f.Fatal(err)
	}
	es := gw.ExternalSender()
	kp, _ := mls.NewKeyPackage([]byte{0, 0, 0, 0, 0, 0, 0, 9})
	gw.Join(5)
	gw.Join(9)
	props, _ := gw.KeyPackage(9, kp.KeyPackage.Marshal())
	for _, op := range []byte{11, 13, 21, 22, 24, 25, 27, 29, 30} {
		f.Add(op, []byte(`{"transition_id":1,"protocol_version":0,"epoch":1,"user_ids":["9"],"user_id":"9"}`))
		f.Add(op, []byte{0, 1, 0, 2, 0, 0})
	}
	f.Add(byte(25), es)
	for _, m := range props {
		f.Add(byte(m.Op), m.Binary)
	}
	f.Add(byte(27), []byte{1, 0x21, 0x20})
	f.Fuzz(func(t *testing.T, op byte, body []byte) {
		s := NewSession(Config{UserID: 5, ChannelID: 77, Logger: slog.New(slog.DiscardHandler)})
		tx := &sink{}
		ctx := context.Background()
		_ = s.Start(ctx, tx, 1)
		_ = s.Handle(ctx, tx, OpExternalSender, true, es)
		_ = s.Handle(ctx, tx, OpClientsConnect, false, []byte(`{"user_ids":["9"]}`))
		binary := op%32 == 25 || op%32 == 27 || op%32 == 29 || op%32 == 30
		_ = s.Handle(ctx, tx, int(op%32), binary, body)
		_, _ = s.EncryptFrame(nil, []byte("frame"))
		_, _ = s.DecryptFrame(9, nil, body)
		var p Proposals
		if p.Unmarshal(body) == nil && !p.Revoke && len(p.Messages) > len(body) {
			t.Fatal("more proposals than bytes")
		}
		var tr Transition
		_ = tr.Unmarshal(body)
	})
}

func TestDisplayableCode(t *testing.T) {
	for _, c := range []struct {
		data     []byte
		len, grp int
		want     string
	}{
		{[]byte{0, 0, 0, 0, 1, 0, 0, 0, 0, 2}, 10, 5, "0000100002"},
		{[]byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF}, 5, 5, "27775"}, // 2^40-1 = 1099511627775
		{[]byte{0, 0, 0x30, 0x39}, 4, 2, "0045"},              // 0, then 0x3039 = 12345 mod 100
		{[]byte{1, 2}, 5, 5, ""},                              // too short
	} {
		if got := DisplayableCode(c.data, c.len, c.grp); got != c.want {
			t.Errorf("DisplayableCode(%x, %d, %d) = %q, want %q", c.data, c.len, c.grp, got, c.want)
		}
	}
}
