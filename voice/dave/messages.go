package dave

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/quaverbot/quaver/voice/mls"
)

// Voice gateway opcodes of the DAVE protocol (protocol.md "Voice Gateway
// Opcodes"; https://daveprotocol.com/#voice-gateway-opcodes).
const (
	OpClientsConnect       = 11 // JSON {user_ids}
	OpClientDisconnect     = 13 // JSON {user_id}
	OpPrepareTransition    = 21 // JSON {protocol_version, transition_id}
	OpExecuteTransition    = 22 // JSON {transition_id}
	OpReadyForTransition   = 23 // JSON {transition_id}, client → server
	OpPrepareEpoch         = 24 // JSON {protocol_version, epoch}
	OpExternalSender       = 25 // binary ExternalSender
	OpKeyPackage           = 26 // binary KeyPackage (bare, as libdave sends it), client → server
	OpProposals            = 27 // binary operation_type + MLSMessage<V> or ProposalRef<V>
	OpCommitWelcome        = 28 // binary MLSMessage(commit) [+ Welcome], client → server
	OpAnnounceCommit       = 29 // binary transition_id + MLSMessage(commit)
	OpWelcome              = 30 // binary transition_id + Welcome
	OpInvalidCommitWelcome = 31 // JSON {transition_id}, client → server
)

// ProtocolVersion is the DAVE protocol version this package implements.
const ProtocolVersion = 1

var (
	errShort        = errors.New("dave: message too short")
	errBadOperation = errors.New("dave: unknown proposals operation type")
)

// Proposals is the body of opcode 27: proposals to append (encoded
// MLSMessages) or proposal references to revoke.
type Proposals struct {
	Revoke   bool
	Messages [][]byte // append
	Refs     [][]byte // revoke
}

// Marshal encodes the opcode 27 body.
func (p *Proposals) Marshal() []byte {
	if p.Revoke {
		return append([]byte{1}, mls.MarshalRefs(p.Refs)...)
	}
	return append([]byte{0}, mls.MarshalMessages(p.Messages)...)
}

// Unmarshal decodes the opcode 27 body.
func (p *Proposals) Unmarshal(b []byte) error {
	if len(b) < 1 {
		return errShort
	}
	*p = Proposals{}
	var err error
	switch b[0] {
	case 0:
		p.Messages, err = mls.UnmarshalMessages(b[1:])
	case 1:
		p.Revoke = true
		p.Refs, err = mls.UnmarshalRefs(b[1:])
	default:
		return errBadOperation
	}
	return err
}

// Transition is a binary body that starts with a transition id: opcode 29
// (an MLSMessage commit follows) and opcode 30 (a Welcome follows).
type Transition struct {
	ID   uint16
	Data []byte
}

// Marshal encodes the body.
func (t *Transition) Marshal() []byte {
	return append(binary.BigEndian.AppendUint16(nil, t.ID), t.Data...)
}

// Unmarshal decodes the body; Data aliases b.
func (t *Transition) Unmarshal(b []byte) error {
	if len(b) < 2 {
		return errShort
	}
	t.ID, t.Data = binary.BigEndian.Uint16(b), b[2:]
	return nil
}

// CommitWelcome is the body of opcode 28: a commit MLSMessage and, when the
// commit adds members, a Welcome.
type CommitWelcome struct {
	Commit  []byte
	Welcome []byte // nil when the commit adds nobody
}

// Marshal encodes the body.
func (c *CommitWelcome) Marshal() []byte {
	return append(append([]byte(nil), c.Commit...), c.Welcome...)
}

// transitionJSON is the body of opcodes 21, 22, 23 and 31.
type transitionJSON struct {
	TransitionID    int  `json:"transition_id"`
	ProtocolVersion *int `json:"protocol_version,omitempty"`
}

// epochJSON is the body of opcode 24.
type epochJSON struct {
	ProtocolVersion int    `json:"protocol_version"`
	Epoch           uint64 `json:"epoch"`
}

// clientsJSON is the body of opcodes 11 and 13.
type clientsJSON struct {
	UserIDs []string `json:"user_ids"`
	UserID  string   `json:"user_id"`
}

// DisplayableCode renders data as decimal digit groups the way Discord shows
// epoch authenticators (protocol.md "Displayable Codes"): for each group of
// groupSize bytes, a big-endian integer modulo 10^groupSize, zero-padded.
func DisplayableCode(data []byte, length, groupSize int) string {
	if groupSize <= 0 || groupSize >= 8 || length%groupSize != 0 || len(data) < length {
		return ""
	}
	mod := uint64(1)
	for range groupSize {
		mod *= 10
	}
	var out strings.Builder
	for i := 0; i < length; i += groupSize {
		var v uint64
		for _, c := range data[i : i+groupSize] {
			v = v<<8 | uint64(c)
		}
		fmt.Fprintf(&out, "%0*d", groupSize, v%mod)
	}
	return out.String()
}
