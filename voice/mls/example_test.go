package mls_test

import (
	"fmt"

	"github.com/quaverbot/quaver/voice/mls"
)

// A group driven by an external sender, as in DAVE: the sender proposes an
// Add, a member commits it, the new member joins from the Welcome, and both
// derive the same exporter secret.
func Example() {
	gateway, _ := mls.GenerateSignatureKey()
	senders := []mls.ExternalSender{{SignatureKey: gateway.PublicKey(), Credential: mls.Credential{Type: mls.CredentialBasic}}}

	aliceKP, _ := mls.NewKeyPackage([]byte{0, 0, 0, 0, 0, 0, 0, 1})
	alice, _ := mls.CreateGroup([]byte("group"), aliceKP, mls.GroupOptions{
		Extensions: []mls.Extension{mls.ExternalSendersExtension(senders)},
	})

	bobKP, _ := mls.NewKeyPackage([]byte{0, 0, 0, 0, 0, 0, 0, 2})
	proposal, _ := mls.NewExternalProposal(alice.GroupID(), alice.Epoch(), 0, mls.AddProposal(&bobKP.KeyPackage), gateway)
	if _, err := alice.ProcessMessage(proposal); err != nil {
		panic(err)
	}
	commit, welcome, _ := alice.CommitPendingProposals()
	if _, err := alice.ProcessMessage(commit); err != nil { // the delivery service echoes it
		panic(err)
	}
	bob, err := mls.JoinFromWelcome(welcome.Marshal(), bobKP, mls.GroupOptions{})
	if err != nil {
		panic(err)
	}
	a, _ := alice.Exporter("label", []byte("context"), 16)
	b, _ := bob.Exporter("label", []byte("context"), 16)
	fmt.Println(alice.Epoch(), bob.Epoch(), len(bob.Members()), string(a) == string(b))
	// Output: 1 1 2 true
}
