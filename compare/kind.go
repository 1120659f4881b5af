package compare

import "github.com/reprove/reprove/compare/verdict"

// Kind says what differs; see package verdict.
type Kind = verdict.Kind

// Kinds of difference.
const (
	KindFile        = verdict.KindFile
	KindSection     = verdict.KindSection
	KindAdded       = verdict.KindAdded
	KindRemoved     = verdict.KindRemoved
	KindDuplicate   = verdict.KindDuplicate
	KindFormat      = verdict.KindFormat
	KindType        = verdict.KindType
	KindMode        = verdict.KindMode
	KindLink        = verdict.KindLink
	KindOwner       = verdict.KindOwner
	KindMtime       = verdict.KindMtime
	KindOrder       = verdict.KindOrder
	KindCompression = verdict.KindCompression
	KindHeader      = verdict.KindHeader
	KindMetadata    = verdict.KindMetadata
	KindContent     = verdict.KindContent
	KindBuildInfo   = verdict.KindBuildInfo
	KindText        = verdict.KindText
	KindBytes       = verdict.KindBytes
	KindTimestamp   = verdict.KindTimestamp
	KindChecksum    = verdict.KindChecksum
	KindSignature   = verdict.KindSignature
	KindGroup       = verdict.KindGroup
	KindFunction    = verdict.KindFunction
	KindObject      = verdict.KindObject
	KindString      = verdict.KindString
	KindData        = verdict.KindData
)
