package mls

import (
	"bytes"
	"testing"
)

func TestVectorsSecretTree(t *testing.T) {
	var vs []struct {
		CipherSuite CipherSuite `json:"cipher_suite"`
		SenderData  struct {
			Secret     hexBytes `json:"sender_data_secret"`
			Ciphertext hexBytes `json:"ciphertext"`
			Key        hexBytes `json:"key"`
			Nonce      hexBytes `json:"nonce"`
		} `json:"sender_data"`
		EncryptionSecret hexBytes `json:"encryption_secret"`
		Leaves           [][]struct {
			Generation       uint32   `json:"generation"`
			ApplicationKey   hexBytes `json:"application_key"`
			ApplicationNonce hexBytes `json:"application_nonce"`
			HandshakeKey     hexBytes `json:"handshake_key"`
			HandshakeNonce   hexBytes `json:"handshake_nonce"`
		} `json:"leaves"`
	}
	loadVectors(t, "secret-tree.json", &vs)
	tally := newTally(t, "secret-tree.json")
	for i, v := range vs {
		if v.CipherSuite != SuiteP256 {
			tally.skip(i, "cipher suite is not 2")
			continue
		}
		sd := v.SenderData
		if k, n := senderDataKeyNonce(sd.Secret, sd.Ciphertext); !bytes.Equal(k, sd.Key) || !bytes.Equal(n, sd.Nonce) {
			t.Fatalf("%d: sender data key/nonce differ", i)
		}
		n := uint32(len(v.Leaves))
		for leaf, gens := range v.Leaves {
			ls := leafTreeSecret(v.EncryptionSecret, n, LeafIndex(leaf))
			for _, g := range gens {
				hk, hn, ok1 := ratchetKeyNonce(ls, ratchetHandshake, g.Generation)
				ak, an, ok2 := ratchetKeyNonce(ls, ratchetApplication, g.Generation)
				if !ok1 || !ok2 || !bytes.Equal(hk, g.HandshakeKey) || !bytes.Equal(hn, g.HandshakeNonce) ||
					!bytes.Equal(ak, g.ApplicationKey) || !bytes.Equal(an, g.ApplicationNonce) {
					t.Fatalf("%d: leaf %d generation %d: keys differ", i, leaf, g.Generation)
				}
			}
		}
		tally.passed++
	}
}
