package voice

import "fmt"

// Action is what the client does when the voice WebSocket closes.
type Action int

// Close actions.
const (
	// ActionResume opens a new WebSocket to the same endpoint and sends
	// Resume (op 7) with seq_ack; a refused resume falls back to a new session.
	ActionResume Action = iota
	// ActionNewSession identifies again (op 0) on the current endpoint with
	// the current credentials: new SSRC, new key.
	ActionNewSession
	// ActionWaitServerUpdate tears the connection down and waits
	// Config.ServerUpdateWait for fresh credentials (UpdateServer); if none
	// come, the connection stops and the owner is told why.
	ActionWaitServerUpdate
	// ActionStop ends the connection with an error for the owner.
	ActionStop
)

func (a Action) String() string {
	switch a {
	case ActionResume:
		return "resume"
	case ActionNewSession:
		return "new-session"
	case ActionWaitServerUpdate:
		return "wait-for-server-update"
	case ActionStop:
		return "stop"
	}
	return fmt.Sprintf("Action(%d)", int(a))
}

// CloseCode describes one voice gateway close code.
type CloseCode struct {
	Code    int
	Meaning string
	Action  Action
}

// closeCodes is the one table of voice close codes and what the client does
// about each. Codes below 4000 (network failures, 1000/1001 from the server)
// resume. https://docs.discord.com/developers/topics/opcodes-and-status-codes#voice-voice-close-event-codes
var closeCodes = []CloseCode{
	{4001, "unknown opcode", ActionNewSession},
	{4002, "failed to decode payload", ActionNewSession},
	{4003, "not authenticated", ActionNewSession},
	{4004, "authentication failed", ActionWaitServerUpdate},
	{4005, "already authenticated", ActionNewSession},
	{4006, "session no longer valid", ActionNewSession},
	{4009, "session timeout", ActionNewSession},
	{4011, "server not found", ActionWaitServerUpdate},
	{4012, "unknown protocol", ActionStop},
	{4014, "disconnected (kicked, channel deleted, moved, or voice server changed)", ActionWaitServerUpdate},
	{4015, "voice server crashed", ActionResume},
	{4016, "unknown encryption mode", ActionStop},
	{4017, "E2EE/DAVE protocol required", ActionStop},
	{4020, "bad request", ActionStop},
	{4021, "disconnected: rate limited", ActionStop},
	{4022, "disconnected: call terminated", ActionStop},
}

// LookupCloseCode returns the table entry for code. Unknown codes below 4000
// resume; unknown 4xxx codes start a new session.
func LookupCloseCode(code int) CloseCode {
	for _, c := range closeCodes {
		if c.Code == code {
			return c
		}
	}
	if code < 4000 {
		return CloseCode{code, "connection closed", ActionResume}
	}
	return CloseCode{code, "unknown close code", ActionNewSession}
}

// CloseError is the error of a voice WebSocket closed by the server (or by a
// network failure, with a code below 4000).
type CloseError struct {
	Code   int
	Reason string
}

func (e *CloseError) Error() string {
	cc := LookupCloseCode(e.Code)
	return fmt.Sprintf("voice: gateway closed with %d (%s)", e.Code, cc.Meaning)
}
