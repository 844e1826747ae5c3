package mls

import (
	"bytes"
	"errors"
	"testing"
)

func TestKeyPackageVerify(t *testing.T) {
	good, err := NewKeyPackage([]byte("id"))
	if err != nil {
		t.Fatal(err)
	}
	if err := good.KeyPackage.Verify(); err != nil {
		t.Fatalf("fresh key package: %v", err)
	}
	var back KeyPackage
	if err := back.Unmarshal(good.KeyPackage.Marshal()); err != nil || !bytes.Equal(back.Ref(), good.KeyPackage.Ref()) {
		t.Fatalf("round trip: %v", err)
	}
	opts := DefaultKeyPackageOptions([]byte("id"))
	opts.Capabilities.Credentials = []uint16{uint16(CredentialX509)}
	noBasic, err := NewKeyPackageWithOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	opts = DefaultKeyPackageOptions([]byte("id"))
	opts.LeafExtensions = []Extension{{Type: 0xff00, Data: []byte{1}}}
	unlisted, err := NewKeyPackageWithOptions(opts)
	if err != nil {
		t.Fatal(err)
	}
	otherSuite := *good
	otherSuite.KeyPackage.CipherSuite = 1
	sameKeys := *good
	sameKeys.KeyPackage.InitKey = sameKeys.KeyPackage.LeafNode.EncryptionKey
	badSig := *good
	badSig.KeyPackage.Signature = append([]byte(nil), good.KeyPackage.Signature...)
	badSig.KeyPackage.Signature[8] ^= 1
	for _, c := range []struct {
		name string
		kp   *KeyPackage
		want error
	}{
		{"credential type not in capabilities", &noBasic.KeyPackage, ErrUnsupportedCapability},
		{"leaf extension not in capabilities", &unlisted.KeyPackage, ErrUnsupportedCapability},
		{"cipher suite 1", &otherSuite.KeyPackage, ErrUnsupportedSuite},
		{"init key equals encryption key", &sameKeys.KeyPackage, ErrBadValue},
		{"tampered signature", &badSig.KeyPackage, ErrBadSignature},
	} {
		if err := c.kp.Verify(); !errors.Is(err, c.want) {
			t.Errorf("%s: got %v want %v", c.name, err, c.want)
		}
	}
}
