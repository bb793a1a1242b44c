package pipeline

import "github.com/heraldmail/herald/internal/streams"

var (
	_ Log       = (*streams.Log)(nil)
	_ Publisher = (*streams.Queue)(nil)
)
