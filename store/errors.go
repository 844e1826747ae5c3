package store

import (
	"errors"
	"fmt"
)

// Errors callers test with errors.Is. Every backend returns them wrapped with
// context (and, for per-guild data, a *GuildError naming the guild).
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("store: not found")
	// ErrVersionConflict: Put's expected version is not the stored one;
	// re-read and retry (Update does that for you).
	ErrVersionConflict = errors.New("store: version conflict")
	// ErrUnavailable: the backing server cannot be reached right now. It is
	// temporary: the same call succeeds once the server is back, with no
	// action from the caller beyond retrying later.
	ErrUnavailable = errors.New("store: backend temporarily unavailable")
	// ErrCorrupt: stored bytes do not decode as the expected record.
	ErrCorrupt = errors.New("store: corrupt record")
	// ErrUnknownSchema: a snapshot was written by a newer build (higher
	// SnapshotSchema) and is not guessed at.
	ErrUnknownSchema = errors.New("store: unknown snapshot schema version")
	// ErrTooLarge: a record exceeds the configured size limits.
	ErrTooLarge = errors.New("store: record too large")
	// ErrInvalid: a record has out-of-range or missing fields.
	ErrInvalid = errors.New("store: invalid record")
	// ErrLeaseHeld: another owner holds the lease.
	ErrLeaseHeld = errors.New("store: lease held by another owner")
	// ErrLeaseLost: the lease expired or was taken over; stop acting on it.
	ErrLeaseLost = errors.New("store: lease lost")
)

// GuildError names the guild (and the operation) an error is about, so a bad
// record is reported as "guild 123: corrupt record" rather than a bare error.
type GuildError struct {
	Op      string
	GuildID string
	Err     error
}

func (e *GuildError) Error() string {
	return fmt.Sprintf("store: %s guild %q: %v", e.Op, e.GuildID, e.Err)
}

// Unwrap returns the underlying error.
func (e *GuildError) Unwrap() error { return e.Err }

func guildErr(op, guildID string, err error) error {
	if err == nil {
		return nil
	}
	var ge *GuildError
	if errors.As(err, &ge) && ge.GuildID == guildID {
		return err
	}
	return &GuildError{Op: op, GuildID: guildID, Err: err}
}

// unavailable wraps a transport error so that errors.Is(err, ErrUnavailable) holds.
func unavailable(backend string, err error) error {
	return fmt.Errorf("%w: %s: %v", ErrUnavailable, backend, err)
}

// ownErrors are the errors the store itself decides; a backend never
// reclassifies them (e.g. as ErrUnavailable).
var ownErrors = []error{ErrNotFound, ErrVersionConflict, ErrCorrupt, ErrUnknownSchema, ErrTooLarge,
	ErrInvalid, ErrLeaseHeld, ErrLeaseLost, ErrUnavailable}

func isOwnError(err error) bool {
	for _, e := range ownErrors {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
