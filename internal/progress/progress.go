// Package progress is the one shape in which reprove's long calls say how
// they go: the builder (fetch, image, build, collect), the pipeline around
// it (compare, attest, check, publish, verify) and the fleet's workers all
// send an Event, and the CLI's status line, its --json stream and a job's
// log all read one.
package progress

// Phase names a stage of the work.
type Phase string

// Event is progress: a phase message; in a build phase, a line of the
// build's own output (Line set, Message empty); or byte progress of a
// download or of hashing (Bytes above zero).
type Event struct {
	Phase   Phase
	Message string
	// Line is a line of the build's output. It is safe to print on a
	// terminal: control characters (escape sequences, carriage returns,
	// backspaces) and invalid UTF-8 are shown escaped (see
	// internal/escape), so a build cannot erase or fake the lines around
	// its own. The raw bytes go to the build log.
	Line string
	// Bytes have passed of Total (0 when unknown) in the transfer that
	// Message names ("downloading https://…"). Such events repeat for one
	// transfer, often: a consumer that draws no progress bar drops them,
	// since a phase message has said what is being fetched.
	Bytes, Total int64
}
