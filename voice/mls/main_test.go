package mls

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain checks that no test leaves goroutines behind (the interop tests
// run a Node process).
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
