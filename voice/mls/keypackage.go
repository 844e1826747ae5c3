package mls

import "math"

// KeyPackageBundle is a key package with the private keys that belong to it.
type KeyPackageBundle struct {
	KeyPackage    KeyPackage
	InitKey       *HPKEPrivateKey
	EncryptionKey *HPKEPrivateKey
	SignatureKey  *SignaturePrivateKey
}

// KeyPackageOptions configures NewKeyPackageWithOptions. Zero fields take
// the defaults of DefaultKeyPackageOptions.
type KeyPackageOptions struct {
	// Identity is the basic credential's identity.
	Identity []byte
	// SignatureKey signs the key package; nil generates a fresh key.
	SignatureKey *SignaturePrivateKey
	// Capabilities advertised in the leaf node.
	Capabilities Capabilities
	// Lifetime of the key package.
	Lifetime Lifetime
	// LeafExtensions and Extensions go into the leaf node and the key package.
	LeafExtensions []Extension
	Extensions     []Extension
}

// DefaultKeyPackageOptions returns options for identity: MLS 1.0, cipher
// suite 2, basic credentials, and a lifetime that never expires.
func DefaultKeyPackageOptions(identity []byte) KeyPackageOptions {
	return KeyPackageOptions{
		Identity: identity,
		Capabilities: Capabilities{
			Versions:     []uint16{uint16(ProtocolMLS10)},
			CipherSuites: []uint16{uint16(SuiteP256)},
			Credentials:  []uint16{uint16(CredentialBasic)},
		},
		Lifetime: Lifetime{NotBefore: 0, NotAfter: math.MaxUint64},
	}
}

// NewKeyPackage makes a key package with default options and fresh keys.
func NewKeyPackage(identity []byte) (*KeyPackageBundle, error) {
	return NewKeyPackageWithOptions(DefaultKeyPackageOptions(identity))
}

// NewKeyPackageWithOptions makes a signed key package (RFC 9420 §10).
func NewKeyPackageWithOptions(o KeyPackageOptions) (*KeyPackageBundle, error) {
	var err error
	b := &KeyPackageBundle{SignatureKey: o.SignatureKey}
	if b.SignatureKey == nil {
		if b.SignatureKey, err = GenerateSignatureKey(); err != nil {
			return nil, err
		}
	}
	if b.InitKey, err = GenerateHPKEKey(); err != nil {
		return nil, err
	}
	if b.EncryptionKey, err = GenerateHPKEKey(); err != nil {
		return nil, err
	}
	if o.Capabilities.Versions == nil {
		o.Capabilities = DefaultKeyPackageOptions(nil).Capabilities
	}
	if o.Lifetime == (Lifetime{}) {
		o.Lifetime = DefaultKeyPackageOptions(nil).Lifetime
	}
	kp := &b.KeyPackage
	kp.Version = ProtocolMLS10
	kp.CipherSuite = SuiteP256
	kp.InitKey = b.InitKey.PublicKey()
	kp.LeafNode = LeafNode{
		EncryptionKey: b.EncryptionKey.PublicKey(),
		SignatureKey:  b.SignatureKey.PublicKey(),
		Credential:    Credential{Type: CredentialBasic, Identity: o.Identity},
		Capabilities:  o.Capabilities,
		Source:        LeafSourceKeyPackage,
		Lifetime:      o.Lifetime,
		Extensions:    o.LeafExtensions,
	}
	if err := kp.LeafNode.sign(b.SignatureKey, nil, 0); err != nil {
		return nil, err
	}
	kp.Extensions = o.Extensions
	if kp.Signature, err = SignWithLabel(b.SignatureKey, "KeyPackageTBS", encode(kp.marshalBody)); err != nil {
		return nil, err
	}
	return b, nil
}
