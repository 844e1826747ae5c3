package mls

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/quaverbot/quaver/internal/testenv"
)

// Test vectors of the MLS working group (mlswg/mls-implementations,
// test-vectors.md), read from the shared test data. Skip rules, applied
// everywhere and counted in each file's summary line:
//   - entries whose cipher_suite is not 2 are skipped: this package
//     implements only MLS_128_DHKEMP256_AES128GCM_SHA256_P256;
//   - further per-file rules are documented beside each test.

// hexBytes decodes a JSON hex string.
type hexBytes []byte

func (h *hexBytes) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s == nil {
		*h = nil
		return nil
	}
	d, err := hex.DecodeString(*s)
	if err != nil {
		return err
	}
	*h = d
	return nil
}

func loadVectors(t *testing.T, file string, v any) {
	t.Helper()
	p := filepath.Join(testenv.SharedData(t, "mls"), file)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
}

// vectorTally counts outcomes and prints the summary line make test-dave reads.
type vectorTally struct {
	t       *testing.T
	file    string
	passed  int
	skipped int
	reasons map[string][]int // skip rule → entry indexes
	order   []string
}

func newTally(t *testing.T, file string) *vectorTally {
	v := &vectorTally{t: t, file: file}
	t.Cleanup(v.report)
	return v
}

func (v *vectorTally) skip(i int, why string) {
	v.skipped++
	if v.reasons == nil {
		v.reasons = map[string][]int{}
	}
	if _, ok := v.reasons[why]; !ok {
		v.order = append(v.order, why)
	}
	v.reasons[why] = append(v.reasons[why], i)
}

func (v *vectorTally) report() {
	if v.t.Failed() {
		return
	}
	for _, why := range v.order {
		v.t.Logf("%s: skipped %d entries by rule %q: %v", v.file, len(v.reasons[why]), why, v.reasons[why])
	}
	line := fmt.Sprintf("mls-vectors: %s passed %d skipped %d", v.file, v.passed, v.skipped)
	v.t.Log(line)
	fmt.Println(line)
}

func TestVectorsTreeMath(t *testing.T) {
	var vs []struct {
		NLeaves uint32    `json:"n_leaves"`
		NNodes  uint32    `json:"n_nodes"`
		Root    uint32    `json:"root"`
		Left    []*uint32 `json:"left"`
		Right   []*uint32 `json:"right"`
		Parent  []*uint32 `json:"parent"`
		Sibling []*uint32 `json:"sibling"`
	}
	loadVectors(t, "tree-math.json", &vs)
	tally := newTally(t, "tree-math.json")
	check := func(what string, i int, got nodeIndex, ok bool, want *uint32) {
		t.Helper()
		if want == nil && ok || want != nil && (!ok || uint32(got) != *want) {
			t.Fatalf("%s(%d): got %d,%v want %v", what, i, got, ok, want)
		}
	}
	for _, v := range vs {
		if nodeWidth(v.NLeaves) != v.NNodes || uint32(root(v.NLeaves)) != v.Root {
			t.Fatalf("n=%d: width %d root %d", v.NLeaves, nodeWidth(v.NLeaves), root(v.NLeaves))
		}
		for i := range v.NNodes {
			x := nodeIndex(i)
			l, ok := x.left()
			check("left", int(i), l, ok, v.Left[i])
			r, ok := x.right()
			check("right", int(i), r, ok, v.Right[i])
			p, ok := x.parent(v.NLeaves)
			check("parent", int(i), p, ok, v.Parent[i])
			s, ok := x.sibling(v.NLeaves)
			check("sibling", int(i), s, ok, v.Sibling[i])
		}
		tally.passed++
	}
}

func TestVectorsDeserialization(t *testing.T) {
	var vs []struct {
		Header hexBytes `json:"vlbytes_header"`
		Length int      `json:"length"`
	}
	loadVectors(t, "deserialization.json", &vs)
	tally := newTally(t, "deserialization.json")
	for _, v := range vs {
		n, size, err := decodeVarint(v.Header)
		if err != nil || n != v.Length || size != len(v.Header) {
			t.Fatalf("header %x: got %d,%d,%v want %d", v.Header, n, size, err, v.Length)
		}
		if got := appendVarint(nil, v.Length); !bytes.Equal(got, v.Header) {
			t.Fatalf("encode %d: got %x want %x", v.Length, got, v.Header)
		}
		tally.passed++
	}
}

func TestVectorsCryptoBasics(t *testing.T) {
	type labelled struct {
		Secret     hexBytes `json:"secret"`
		Label      string   `json:"label"`
		Context    hexBytes `json:"context"`
		Length     int      `json:"length"`
		Generation uint32   `json:"generation"`
		Out        hexBytes `json:"out"`
		Value      hexBytes `json:"value"`
	}
	var vs []struct {
		CipherSuite     CipherSuite `json:"cipher_suite"`
		RefHash         labelled    `json:"ref_hash"`
		ExpandWithLabel labelled    `json:"expand_with_label"`
		DeriveSecret    labelled    `json:"derive_secret"`
		DeriveTree      labelled    `json:"derive_tree_secret"`
		Sign            struct {
			Priv, Pub, Content, Signature hexBytes
			Label                         string
		} `json:"sign_with_label"`
		Encrypt struct {
			Priv, Pub, Context, Plaintext, Ciphertext hexBytes
			KEMOutput                                 hexBytes `json:"kem_output"`
			Label                                     string
		} `json:"encrypt_with_label"`
	}
	loadVectors(t, "crypto-basics.json", &vs)
	tally := newTally(t, "crypto-basics.json")
	for i, v := range vs {
		if v.CipherSuite != SuiteP256 {
			tally.skip(i, "cipher suite is not 2")
			continue
		}
		if got := RefHash(v.RefHash.Label, v.RefHash.Value); !bytes.Equal(got, v.RefHash.Out) {
			t.Errorf("RefHash = %x want %x", got, v.RefHash.Out)
		}
		e := v.ExpandWithLabel
		if got := ExpandWithLabel(e.Secret, e.Label, e.Context, e.Length); !bytes.Equal(got, e.Out) {
			t.Errorf("ExpandWithLabel = %x want %x", got, e.Out)
		}
		if got := DeriveSecret(v.DeriveSecret.Secret, v.DeriveSecret.Label); !bytes.Equal(got, v.DeriveSecret.Out) {
			t.Errorf("DeriveSecret = %x want %x", got, v.DeriveSecret.Out)
		}
		d := v.DeriveTree
		if got := deriveTreeSecret(d.Secret, d.Label, d.Generation, d.Length); !bytes.Equal(got, d.Out) {
			t.Errorf("DeriveTreeSecret = %x want %x", got, d.Out)
		}
		s := v.Sign
		if err := VerifyWithLabel(s.Pub, s.Label, s.Content, s.Signature); err != nil {
			t.Errorf("VerifyWithLabel(vector signature): %v", err)
		}
		priv, err := ParseSignaturePrivateKey(s.Priv)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(priv.PublicKey(), s.Pub) {
			t.Errorf("signature public key mismatch")
		}
		sig, err := SignWithLabel(priv, s.Label, s.Content)
		if err != nil {
			t.Fatal(err)
		}
		if err := VerifyWithLabel(s.Pub, s.Label, s.Content, sig); err != nil {
			t.Errorf("VerifyWithLabel(own signature): %v", err)
		}
		if VerifyWithLabel(s.Pub, s.Label+"x", s.Content, sig) == nil {
			t.Errorf("signature verified under a different label")
		}
		c := v.Encrypt
		hp, err := ParseHPKEPrivateKey(c.Priv)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := DecryptWithLabel(hp, c.Label, c.Context, HPKECiphertext{c.KEMOutput, c.Ciphertext})
		if err != nil || !bytes.Equal(pt, c.Plaintext) {
			t.Errorf("DecryptWithLabel = %x, %v want %x", pt, err, c.Plaintext)
		}
		ct, err := EncryptWithLabel(c.Pub, c.Label, c.Context, c.Plaintext)
		if err != nil {
			t.Fatal(err)
		}
		pt, err = DecryptWithLabel(hp, c.Label, c.Context, ct)
		if err != nil || !bytes.Equal(pt, c.Plaintext) {
			t.Errorf("round trip DecryptWithLabel = %x, %v", pt, err)
		}
		if _, err := DecryptWithLabel(hp, c.Label, append([]byte{1}, c.Context...), ct); err == nil {
			t.Errorf("decryption with the wrong context succeeded")
		}
		if !t.Failed() {
			tally.passed++
		}
	}
}

// TestVectorsMessages decodes every structure and requires the re-encoding
// to be byte-identical. Signatures are not checked: the generator fills the
// structures with unrelated random keys (test-vectors.md: "the objects
// produced must be syntactically valid").
func TestVectorsMessages(t *testing.T) {
	var vs []map[string]hexBytes
	loadVectors(t, "messages.json", &vs)
	tally := newTally(t, "messages.json")
	type codec interface {
		Marshal() []byte
		Unmarshal([]byte) error
	}
	proposal := func(pt ProposalType) func() codec {
		return func() codec { return &proposalBody{Proposal{Type: pt}} }
	}
	kinds := map[string]func() codec{
		"mls_welcome":                       func() codec { return new(Message) },
		"mls_group_info":                    func() codec { return new(Message) },
		"mls_key_package":                   func() codec { return new(Message) },
		"ratchet_tree":                      func() codec { return new(RatchetTree) },
		"group_secrets":                     func() codec { return new(GroupSecrets) },
		"add_proposal":                      proposal(ProposalAdd),
		"update_proposal":                   proposal(ProposalUpdate),
		"remove_proposal":                   proposal(ProposalRemove),
		"pre_shared_key_proposal":           proposal(ProposalPSK),
		"re_init_proposal":                  proposal(ProposalReInit),
		"external_init_proposal":            proposal(ProposalExternalInit),
		"group_context_extensions_proposal": proposal(ProposalGroupContextExtensions),
		"commit":                            func() codec { return new(Commit) },
		"public_message_application":        func() codec { return new(Message) },
		"public_message_proposal":           func() codec { return new(Message) },
		"public_message_commit":             func() codec { return new(Message) },
		"private_message":                   func() codec { return new(Message) },
	}
	for i, v := range vs {
		for k, b := range v {
			mk, ok := kinds[k]
			if !ok {
				t.Fatalf("entry %d: unknown field %q", i, k)
			}
			c := mk()
			if err := c.Unmarshal(b); err != nil {
				t.Fatalf("entry %d %s: %v", i, k, err)
			}
			if got := c.Marshal(); !bytes.Equal(got, b) {
				t.Fatalf("entry %d %s: re-encoding differs\n got %x\nwant %x", i, k, got, b)
			}
		}
		tally.passed++
	}
}

// proposalBody codes a proposal's body without its type, as the vectors store it.
type proposalBody struct{ p Proposal }

func (b *proposalBody) Marshal() []byte { return encode(b.p.marshalBody) }
func (b *proposalBody) Unmarshal(in []byte) error {
	return decodeAll(in, b.p.unmarshalBody)
}
