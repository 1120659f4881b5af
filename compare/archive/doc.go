// Package archive reads untrusted archives (tar, zip, ar) and compressed
// streams (gzip, bzip2, xz, zstd) as streams of members with their complete
// metadata, for comparison. Nothing is ever extracted by member name: a
// member's content is handed to the caller as a reader, so a hostile name
// cannot write anywhere. Names that would escape an extraction root
// (absolute paths, "..", a path through a symlink member) are refused all
// the same, with an error that names the member, because such an archive
// is not something a release should ship.
//
// Every reader works under a Budget: limits on members, nesting depth,
// expanded bytes, compression ratio and decompressor window size. Crossing
// one is a *LimitError, never a silent truncation.
package archive
