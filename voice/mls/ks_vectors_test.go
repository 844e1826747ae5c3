package mls

import (
	"bytes"
	"crypto/hmac"
	"testing"
)

func TestVectorsKeySchedule(t *testing.T) {
	var vs []struct {
		CipherSuite CipherSuite `json:"cipher_suite"`
		GroupID     hexBytes    `json:"group_id"`
		InitSecret  hexBytes    `json:"initial_init_secret"`
		Epochs      []struct {
			TreeHash       hexBytes `json:"tree_hash"`
			CommitSecret   hexBytes `json:"commit_secret"`
			PSKSecret      hexBytes `json:"psk_secret"`
			ConfirmedHash  hexBytes `json:"confirmed_transcript_hash"`
			GroupContext   hexBytes `json:"group_context"`
			Joiner         hexBytes `json:"joiner_secret"`
			Welcome        hexBytes `json:"welcome_secret"`
			Init           hexBytes `json:"init_secret"`
			SenderData     hexBytes `json:"sender_data_secret"`
			Encryption     hexBytes `json:"encryption_secret"`
			Exporter       hexBytes `json:"exporter_secret"`
			Authentication hexBytes `json:"epoch_authenticator"`
			External       hexBytes `json:"external_secret"`
			Confirmation   hexBytes `json:"confirmation_key"`
			Membership     hexBytes `json:"membership_key"`
			Resumption     hexBytes `json:"resumption_psk"`
			ExternalPub    hexBytes `json:"external_pub"`
			Export         struct {
				Label   string   `json:"label"` // used verbatim: the generator's label is this text, not its hex decoding
				Context hexBytes `json:"context"`
				Length  int      `json:"length"`
				Secret  hexBytes `json:"secret"`
			} `json:"exporter"`
		} `json:"epochs"`
	}
	loadVectors(t, "key-schedule.json", &vs)
	tally := newTally(t, "key-schedule.json")
	for i, v := range vs {
		if v.CipherSuite != SuiteP256 {
			tally.skip(i, "cipher suite is not 2")
			continue
		}
		initSecret := []byte(v.InitSecret)
		for n, e := range v.Epochs {
			gc := GroupContext{Version: ProtocolMLS10, CipherSuite: v.CipherSuite, GroupID: v.GroupID,
				Epoch: uint64(n), TreeHash: e.TreeHash, ConfirmedTranscriptHash: e.ConfirmedHash}
			gcb := gc.Marshal()
			if !bytes.Equal(gcb, e.GroupContext) {
				t.Fatalf("epoch %d: group context %x want %x", n, gcb, e.GroupContext)
			}
			joiner := joinerSecret(initSecret, e.CommitSecret, gcb)
			s := deriveEpoch(joiner, e.PSKSecret, gcb)
			pub, err := s.externalPub()
			if err != nil {
				t.Fatal(err)
			}
			exp, err := export(s.exporter, e.Export.Label, e.Export.Context, e.Export.Length)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range []struct {
				name      string
				got, want []byte
			}{
				{"joiner", joiner, e.Joiner}, {"welcome", s.welcome, e.Welcome}, {"init", s.init, e.Init},
				{"sender_data", s.senderData, e.SenderData}, {"encryption", s.encryption, e.Encryption},
				{"exporter", s.exporter, e.Exporter}, {"authentication", s.authentication, e.Authentication},
				{"external", s.external, e.External}, {"confirmation", s.confirmation, e.Confirmation},
				{"membership", s.membership, e.Membership}, {"resumption", s.resumption, e.Resumption},
				{"external_pub", pub, e.ExternalPub}, {"exported", exp, e.Export.Secret},
				{"welcome(joiner)", welcomeSecret(joiner, e.PSKSecret), e.Welcome},
			} {
				if !bytes.Equal(c.got, c.want) {
					t.Fatalf("entry %d epoch %d: %s = %x want %x", i, n, c.name, c.got, c.want)
				}
			}
			initSecret = s.init
		}
		tally.passed++
	}
}

func TestVectorsTranscriptHashes(t *testing.T) {
	var vs []struct {
		CipherSuite     CipherSuite `json:"cipher_suite"`
		ConfirmationKey hexBytes    `json:"confirmation_key"`
		Content         hexBytes    `json:"authenticated_content"`
		InterimBefore   hexBytes    `json:"interim_transcript_hash_before"`
		ConfirmedAfter  hexBytes    `json:"confirmed_transcript_hash_after"`
		InterimAfter    hexBytes    `json:"interim_transcript_hash_after"`
	}
	loadVectors(t, "transcript-hashes.json", &vs)
	tally := newTally(t, "transcript-hashes.json")
	for i, v := range vs {
		if v.CipherSuite != SuiteP256 {
			tally.skip(i, "cipher suite is not 2")
			continue
		}
		var ac AuthenticatedContent
		if err := ac.Unmarshal(v.Content); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(ac.Marshal(), v.Content) {
			t.Fatal("authenticated content re-encoding differs")
		}
		confirmed := confirmedTranscriptHash(v.InterimBefore, ac.WireFormat, &ac.Content, ac.Auth.Signature)
		if !bytes.Equal(confirmed, v.ConfirmedAfter) {
			t.Fatalf("confirmed = %x want %x", confirmed, v.ConfirmedAfter)
		}
		if !hmac.Equal(mac(v.ConfirmationKey, confirmed), ac.Auth.ConfirmationTag) {
			t.Fatal("confirmation tag does not verify")
		}
		if got := interimTranscriptHash(confirmed, ac.Auth.ConfirmationTag); !bytes.Equal(got, v.InterimAfter) {
			t.Fatalf("interim = %x want %x", got, v.InterimAfter)
		}
		tally.passed++
	}
}

func TestVectorsPSKSecret(t *testing.T) {
	var vs []struct {
		CipherSuite CipherSuite `json:"cipher_suite"`
		PSKs        []struct {
			ID    hexBytes `json:"psk_id"`
			PSK   hexBytes `json:"psk"`
			Nonce hexBytes `json:"psk_nonce"`
		} `json:"psks"`
		PSKSecret hexBytes `json:"psk_secret"`
	}
	loadVectors(t, "psk_secret.json", &vs)
	tally := newTally(t, "psk_secret.json")
	for i, v := range vs {
		if v.CipherSuite != SuiteP256 {
			tally.skip(i, "cipher suite is not 2")
			continue
		}
		var in []pskInput
		for _, p := range v.PSKs {
			in = append(in, pskInput{id: PreSharedKeyID{Type: PSKExternal, ID: p.ID, Nonce: p.Nonce}, psk: p.PSK})
		}
		got := pskSecret(in)
		if got == nil {
			got = zeroSecret
		}
		if !bytes.Equal(got, v.PSKSecret) {
			t.Fatalf("%d: psk_secret = %x want %x", i, got, v.PSKSecret)
		}
		tally.passed++
	}
}
