package pipeline

import (
	"github.com/heraldmail/herald/internal/streams"
	"github.com/heraldmail/herald/internal/suppress"
)

var (
	_ Log          = (*streams.Log)(nil)
	_ Publisher    = (*streams.Queue)(nil)
	_ Suppressions = (*suppress.Store)(nil)
)
