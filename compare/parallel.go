package compare

import (
	"sync"

	"github.com/reprove/reprove/compare/report"
)

// Members of an archive whose contents differ are compared two at a time
// (the machines reprove runs on have two cores or more; analysing one
// executable already keeps two busy for part of the time). Each runs on a
// forked engine that keeps its own findings; they are joined in member
// order, so the report is the same as one made member by member.
//
// A member larger than aloneOver is compared alone: the analysis of an
// executable holds several times its size in memory, and two large ones
// at once would double the peak.
const aloneOver = 4 << 20

// fork returns an engine for one member: it shares the limits, budget,
// progress, private directory and node IDs, and keeps its findings until
// join adds them.
func (e *engine) fork() *engine {
	return &engine{ctx: e.ctx, lim: e.lim, allowed: e.allowed, budget: e.budget, prog: e.prog, tempDir: e.tempDir, shared: e.shared,
		buf: make([]byte, len(e.buf)), needed: map[string]bool{}, suggested: map[string]bool{}, order: map[*report.Node]int{}}
}

// join adds what a fork found.
func (e *engine) join(c *engine) {
	e.counts.Differences += c.counts.Differences
	e.counts.Accepted += c.counts.Accepted
	e.unexplained += c.unexplained
	e.notes = append(e.notes, c.notes...)
	for k := range c.needed {
		e.needed[k] = true
	}
	for k := range c.suggested {
		e.suggested[k] = true
	}
	for k, v := range c.order {
		e.order[k] = v
	}
}

// memberTask is the comparison of one pair of members; size is the larger
// member's size.
type memberTask struct {
	size int64
	run  func(c *engine) error
}

// compareMembers runs the tasks, two at a time where they are small
// enough, and joins their findings in order. It returns the first error
// in task order; after an error, tasks not yet started are skipped.
func (e *engine) compareMembers(tasks []memberTask) error {
	if len(tasks) == 1 {
		return tasks[0].run(e)
	}
	forks := make([]*engine, len(tasks))
	errs := make([]error, len(tasks))
	var alone sync.RWMutex // small tasks share it, a large one holds it alone
	var mu sync.Mutex
	failed := false
	next := make(chan int)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				mu.Lock()
				skip := failed
				mu.Unlock()
				if skip {
					continue
				}
				t := tasks[i]
				lock, unlock := alone.RLock, alone.RUnlock
				if t.size > aloneOver {
					lock, unlock = alone.Lock, alone.Unlock
				}
				lock()
				c := e.fork()
				err := t.run(c)
				unlock()
				forks[i], errs[i] = c, err
				if err != nil {
					mu.Lock()
					failed = true
					mu.Unlock()
				}
			}
		}()
	}
	for i := range tasks {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, c := range forks {
		if errs[i] != nil {
			return errs[i]
		}
		if c != nil {
			e.join(c)
		}
	}
	return nil
}
