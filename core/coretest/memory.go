package coretest

import (
	"github.com/idemkit/idempotency/core"
	"github.com/idemkit/idempotency/storage/memory"
)

func newMemory() core.Store { return memory.New() }
