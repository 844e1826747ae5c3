package discordtest

// Permission bits
// (https://discord.com/developers/docs/topics/permissions#permissions-bitwise-permission-flags).
const (
	PermCreateInstantInvite    uint64 = 1 << 0
	PermAdministrator          uint64 = 1 << 3
	PermManageChannels         uint64 = 1 << 4
	PermManageGuild            uint64 = 1 << 5
	PermViewChannel            uint64 = 1 << 10
	PermSendMessages           uint64 = 1 << 11
	PermEmbedLinks             uint64 = 1 << 14
	PermAttachFiles            uint64 = 1 << 15
	PermReadMessageHistory     uint64 = 1 << 16
	PermConnect                uint64 = 1 << 20
	PermSpeak                  uint64 = 1 << 21
	PermMuteMembers            uint64 = 1 << 22
	PermDeafenMembers          uint64 = 1 << 23
	PermMoveMembers            uint64 = 1 << 24
	PermUseVAD                 uint64 = 1 << 25
	PermManageRoles            uint64 = 1 << 28
	PermUseApplicationCommands uint64 = 1 << 31
	PermRequestToSpeak         uint64 = 1 << 32
	PermSendMessagesInThreads  uint64 = 1 << 38
	// PermAll is every permission bit Discord defines today.
	PermAll uint64 = 1<<51 - 1
	// DefaultEveryonePermissions is what a new guild's @everyone role holds.
	DefaultEveryonePermissions = PermCreateInstantInvite | PermViewChannel | PermSendMessages |
		PermEmbedLinks | PermAttachFiles | PermReadMessageHistory | PermConnect | PermSpeak |
		PermUseVAD | PermUseApplicationCommands | PermRequestToSpeak | PermSendMessagesInThreads
)

// Gateway intents (https://discord.com/developers/docs/topics/gateway#gateway-intents).
const (
	IntentGuilds           uint64 = 1 << 0
	IntentGuildMembers     uint64 = 1 << 1
	IntentGuildVoiceStates uint64 = 1 << 7
	IntentGuildPresences   uint64 = 1 << 8
	IntentGuildMessages    uint64 = 1 << 9
	IntentMessageContent   uint64 = 1 << 15
	// intentsKnown covers every intent bit Discord defines (0..25, with
	// the unused 17..19 and 22..23 tolerated as Discord does).
	intentsKnown uint64 = 1<<26 - 1
	// IntentsPrivileged need enabling in the developer portal
	// (Config.PrivilegedIntents) or Identify closes with 4014.
	IntentsPrivileged = IntentGuildMembers | IntentGuildPresences | IntentMessageContent
)

// Gateway opcodes
// (https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-opcodes).
const (
	opDispatch            = 0
	opHeartbeat           = 1
	opIdentify            = 2
	opPresenceUpdate      = 3
	opVoiceStateUpdate    = 4
	opResume              = 6
	opReconnect           = 7
	opRequestGuildMembers = 8
	opInvalidSession      = 9
	opHello               = 10
	opHeartbeatAck        = 11
	opRequestSoundboard   = 31
)

// CloseCode is a gateway close event code.
type CloseCode int

// Gateway close codes
// (https://discord.com/developers/docs/topics/opcodes-and-status-codes#gateway-gateway-close-event-codes).
const (
	CloseUnknownError         CloseCode = 4000
	CloseUnknownOpcode        CloseCode = 4001
	CloseDecodeError          CloseCode = 4002
	CloseNotAuthenticated     CloseCode = 4003
	CloseAuthenticationFailed CloseCode = 4004
	CloseAlreadyAuthenticated CloseCode = 4005
	CloseInvalidSeq           CloseCode = 4007
	CloseRateLimited          CloseCode = 4008
	CloseSessionTimedOut      CloseCode = 4009
	CloseInvalidShard         CloseCode = 4010
	CloseShardingRequired     CloseCode = 4011
	CloseInvalidAPIVersion    CloseCode = 4012
	CloseInvalidIntents       CloseCode = 4013
	CloseDisallowedIntents    CloseCode = 4014
)

// closeCodes describes each close code: its reason text and whether a
// client may reconnect after it.
var closeCodes = map[CloseCode]struct {
	Reason    string
	Reconnect bool
}{
	CloseUnknownError:         {"Unknown error.", true},
	CloseUnknownOpcode:        {"Unknown opcode.", true},
	CloseDecodeError:          {"Decode error.", true},
	CloseNotAuthenticated:     {"Not authenticated.", true},
	CloseAuthenticationFailed: {"Authentication failed.", false},
	CloseAlreadyAuthenticated: {"Already authenticated.", true},
	CloseInvalidSeq:           {"Invalid seq.", true},
	CloseRateLimited:          {"Rate limited.", true},
	CloseSessionTimedOut:      {"Session timed out.", true},
	CloseInvalidShard:         {"Invalid shard.", false},
	CloseShardingRequired:     {"Sharding required.", false},
	CloseInvalidAPIVersion:    {"Invalid API version.", false},
	CloseInvalidIntents:       {"Invalid intent(s).", false},
	CloseDisallowedIntents:    {"Disallowed intent(s).", false},
}

// Reason returns Discord's text for the close code.
func (c CloseCode) Reason() string {
	if d, ok := closeCodes[c]; ok {
		return d.Reason
	}
	return "Unknown error."
}

// Reconnectable reports whether Discord lets a client reconnect after c.
func (c CloseCode) Reconnectable() bool {
	d, ok := closeCodes[c]
	return !ok || d.Reconnect
}

// gatewayVersions are the API versions the gateway accepts (?v=).
var gatewayVersions = map[string]bool{"9": true, "10": true}

// payloadCompressMin is the size from which payloads are zlib-compressed
// when Identify asked for payload compression; Discord compresses "some"
// payloads, the large ones such as READY and GUILD_CREATE.
const payloadCompressMin = 1024

// maxGatewayPayload is the largest inbound payload Discord accepts
// (https://discord.com/developers/docs/topics/gateway#sending-events).
const maxGatewayPayload = 4096

// Interaction types
// (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-object-interaction-type).
const (
	InteractionPing         = 1
	InteractionCommand      = 2
	InteractionComponent    = 3
	InteractionAutocomplete = 4
	InteractionModalSubmit  = 5
)

// Interaction callback types
// (https://discord.com/developers/docs/interactions/receiving-and-responding#interaction-response-object-interaction-callback-type).
const (
	CallbackPong                     = 1
	CallbackChannelMessage           = 4
	CallbackDeferredChannelMessage   = 5
	CallbackDeferredUpdateMessage    = 6
	CallbackUpdateMessage            = 7
	CallbackAutocompleteResult       = 8
	CallbackModal                    = 9
	callbackPremiumRequiredForbidden = 10
)

// callbackAllowed says which callback types answer which interaction types.
var callbackAllowed = map[int]map[int]bool{
	InteractionCommand:      {CallbackChannelMessage: true, CallbackDeferredChannelMessage: true, CallbackModal: true},
	InteractionComponent:    {CallbackChannelMessage: true, CallbackDeferredChannelMessage: true, CallbackDeferredUpdateMessage: true, CallbackUpdateMessage: true, CallbackModal: true},
	InteractionAutocomplete: {CallbackAutocompleteResult: true},
	InteractionModalSubmit:  {CallbackChannelMessage: true, CallbackDeferredChannelMessage: true, CallbackDeferredUpdateMessage: true, CallbackUpdateMessage: true},
}

// Message flags (https://discord.com/developers/docs/resources/message#message-object-message-flags).
const (
	FlagSuppressEmbeds = 1 << 2
	FlagEphemeral      = 1 << 6
	FlagLoading        = 1 << 7
)

// Message types (https://discord.com/developers/docs/resources/message#message-object-message-types).
const (
	MessageDefault          = 0
	MessageChatInputCommand = 20
	MessageContextCommand   = 23
)

// JSON error codes (https://discord.com/developers/docs/topics/opcodes-and-status-codes#json).
const (
	codeGeneral             = 0
	codeUnknownApplication  = 10002
	codeUnknownChannel      = 10003
	codeUnknownGuild        = 10004
	codeUnknownMember       = 10007
	codeUnknownMessage      = 10008
	codeUnknownRole         = 10011
	codeUnknownUser         = 10013
	codeUnknownWebhook      = 10015
	codeUnknownCommand      = 10063
	codeUnknownInteraction  = 10062
	codeMissingAccess       = 50001
	codeCannotEditOther     = 50005
	codeEmptyMessage        = 50006
	codeMissingPermissions  = 50013
	codeInvalidToken        = 50014
	codeInvalidFormBody     = 50035
	codeAlreadyAcknowledged = 40060
	codeNotVoiceMember      = 10065
)

// Message limits (https://discord.com/developers/docs/resources/message#embed-object-embed-limits).
const (
	maxContent          = 2000
	maxEmbeds           = 10
	maxEmbedTitle       = 256
	maxEmbedDescription = 4096
	maxEmbedFields      = 25
	maxFieldName        = 256
	maxFieldValue       = 1024
	maxFooterText       = 2048
	maxAuthorName       = 256
	maxEmbedTotal       = 6000
	maxActionRows       = 5
	maxRowComponents    = 5
	maxCustomID         = 100
	maxButtonLabel      = 80
	maxChoices          = 25
)
