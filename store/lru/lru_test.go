package lru

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

func TestEvictsLeastRecentlyUsed(t *testing.T) {
	now := time.Unix(1000, 0)
	c := New[string, int](2)
	c.Add("a", 1, time.Time{})
	c.Add("b", 2, time.Time{})
	if _, ok := c.Get("a", now); !ok { // a is now the most recent
		t.Fatal("a missing")
	}
	c.Add("c", 3, time.Time{})
	if _, ok := c.Get("b", now); ok {
		t.Fatal("b should have been evicted (least recently used)")
	}
	for k, want := range map[string]int{"a": 1, "c": 3} {
		if v, ok := c.Get(k, now); !ok || v != want {
			t.Fatalf("Get(%q) = %d,%v want %d", k, v, ok, want)
		}
	}
	if c.Len() != 2 {
		t.Fatalf("Len = %d, want 2", c.Len())
	}
}

func TestExpiry(t *testing.T) {
	t0 := time.Unix(1000, 0)
	c := New[string, string](10)
	c.Add("k", "v", t0.Add(time.Second))
	tests := []struct {
		at   time.Time
		want bool
	}{{t0, true}, {t0.Add(999 * time.Millisecond), true}, {t0.Add(time.Second), false}, {t0, false}}
	for i, tc := range tests {
		if _, ok := c.Get("k", tc.at); ok != tc.want {
			t.Fatalf("step %d: Get at %v = %v, want %v", i, tc.at, ok, tc.want)
		}
	}
	c.Add("k", "v2", time.Time{})
	c.Remove("k")
	if _, ok := c.Get("k", t0); ok {
		t.Fatal("removed key still present")
	}
}

func TestConcurrentUse(t *testing.T) {
	c := New[string, int](50)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 1000 {
				k := fmt.Sprint((g*1000 + i) % 80)
				c.Add(k, i, time.Time{})
				c.Get(k, time.Now())
			}
		}()
	}
	wg.Wait()
	if c.Len() > 50 {
		t.Fatalf("Len = %d over capacity 50", c.Len())
	}
}
