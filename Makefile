# bpflab: run 'make lab-1' to grade lab 1, 'make test' to test bpflab itself.
# Both install what is missing (scripts/deps.sh) and fetch kernels on first use.

SHELL   := /bin/bash
GO      ?= go
BIN     := $(CURDIR)/bin/bpflab
# KERNEL: an alias of vmtest/kernels/kernels.lock (5.10 6.1 6.12 6.18 7.x),
# all, host, or a path to a vmlinuz. Empty means the lock's default (6.12).
KERNEL  ?=
GOFLAGS_BUILD := -trimpath -ldflags='-s -w'

# Every lab directory gives a 'make lab-N' (labs register themselves: labs/all).
LABS    := $(notdir $(wildcard labs/lab-*))

.PHONY: all deps build doctor kernels test test-ebpf-suite vet lint-workflows container-check bench bench-boot bench-lab bench-run bench-graders soak stress-graders clean help vmlinux-h $(LABS)

all: build

help:
	@echo "make lab-1            grade labs/lab-1 in a VM (KERNEL=all for the matrix, SOLUTION=1 for the reference)"
	@echo "make test             run every test, booting every kernel of the matrix"
	@echo "make bench-boot       runner vs bare QEMU boot, per kernel"
	@echo "make stress-graders   every lab's solution with 100 seeds on every kernel"
	@echo "make kernels          fetch every kernel of the matrix"
	@echo "make doctor           what this machine lacks, each with its fix (BOOT=1 also boots once)"
	@echo "make lint-workflows   actionlint on .github/workflows and .github/actions (part of make test)"
	@echo "make test-ebpf-suite  cilium/ebpf's own test suite on every kernel (not part of make test)"
	@echo "make container-check  build the Dockerfile and grade lab 1 in it, with buildah and podman (not part of make test)"

deps:
	@scripts/deps.sh

# The guest's init is this binary, so it must be static: CGO_ENABLED=0.
# go build is skipped when no file of the tree is newer than the binary:
# finding nothing to do takes go build about 0.25 s, an eighth of a warm
# 'make lab-1'. The binary is touched after a build, which leaves it as it
# was when only a file's time changed.
STALE := $(shell test -x $(BIN) && find . \( -path ./bin -o -path ./.git \) -prune -o -type f -newer $(BIN) -print -quit 2>/dev/null || echo $(BIN))
build: deps
	@$(if $(STALE),CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/bpflab && touch $(BIN),:)

# What this machine lacks, each with its fix. Builds bpflab without
# installing anything first, so it also runs where deps.sh cannot.
doctor:
	@CGO_ENABLED=0 $(GO) build $(GOFLAGS_BUILD) -o $(BIN) ./cmd/bpflab
	@$(BIN) doctor $(if $(BOOT),--boot)

kernels: build
	@$(BIN) kernels fetch all >/dev/null

vet:
	@$(GO) vet ./...
	@scripts/check-repo.sh

# actionlint on .github (workflows, the composite action's metadata and
# steps), pinned and built once from the Go module proxy into bin/tools.
lint-workflows:
	@scripts/lint-workflows.sh

# Build the Dockerfile and grade lab 1 in it with buildah and podman: no
# Docker, no privileges (not part of 'make test'; CI runs it in a job of
# its own).
container-check:
	@scripts/container-check.sh

# go test runs packages two at a time, in the order given: vmtest and cmd,
# whose tests boot one guest after another and keep about one core busy
# each, go first, side by side; last come the labs, each booting all its
# kernels at once, which keep both cores busy to the end.
test: build kernels vet
	BPFLAB_REQUIRE_VM=1 BPFLAB_BIN=$(BIN) $(GO) test -count=1 -timeout 30m ./vmtest/... ./cmd/... ./...

bench: bench-boot bench-lab bench-run bench-graders

# This tree's graders against an earlier commit's, side by side
# (OLD=<git rev> to choose the commit).
bench-graders: build kernels
	@scripts/bench-graders.sh $(OLD)

# Every lab's reference solution graded with 100 scenarios (seeds) on every
# kernel, and every known-wrong program once (not part of 'make test').
stress-graders: build kernels
	BPFLAB_REQUIRE_VM=1 BPFLAB_BIN=$(BIN) BPFLAB_SOLUTION_SEEDS=$${BPFLAB_SOLUTION_SEEDS:-100} \
		$(GO) test -count=1 -timeout 120m -run '^TestLab$$' ./labs/...

# Serial against parallel 'bpflab run --kernel all' of a trivial package.
bench-run: build kernels
	@scripts/bench-run.sh

# cilium/ebpf's own suite on every kernel through 'bpflab run', unchanged
# (not part of 'make test'); results in bin/ebpf-suite.
test-ebpf-suite: build kernels
	@scripts/ebpf-suite.sh $(KERNEL)

# 200 boots across the matrix and every failure class (not part of 'make test').
soak: build kernels
	BPFLAB_REQUIRE_VM=1 BPFLAB_BIN=$(BIN) BPFLAB_SOAK=$${BPFLAB_SOAK:-200} BPFLAB_SOAK_REPORT=$(CURDIR)/bin/soak.md \
		$(GO) test -count=1 -timeout 60m -run '^TestSoak$$' -v ./vmtest/ | grep -v '^=== RUN'
	@cat bin/soak.md

bench-lab: build kernels
	@scripts/bench-lab.sh lab-1
	@scripts/bench-lab.sh lab-2
	@scripts/bench-labs.sh

bench-boot: build kernels
	@BPFLAB_REQUIRE_VM=1 BPFLAB_BIN=$(BIN) $(GO) test -run '^$$' -bench BenchmarkBoot -benchtime 5x -count 1 ./vmtest/ | scripts/boot-table.sh

# Grade a lab. KERNEL, SOLUTION=1, SRC=file.bpf.c, PROG=dir (lab 7's Go
# program) and JSON=out.json are optional.
$(LABS): build
	@$(BIN) grade $@ $(if $(SOLUTION),--solution) $(if $(KERNEL),--kernel $(KERNEL)) \
		$(if $(SRC),--src $(SRC)) $(if $(PROG),--prog $(PROG)) $(if $(JSON),--json $(JSON))

# bpf/vmlinux.h from the BTF of the lock's default kernel, dumped in a guest
# by the host's bpftool: the same on every machine.
vmlinux-h: build
	@$(BIN) exec $$(command -v bpftool) btf dump file /sys/kernel/btf/vmlinux format c > bpf/vmlinux.h.new
	@mv bpf/vmlinux.h.new bpf/vmlinux.h
	@git diff --stat -- bpf/vmlinux.h

clean:
	rm -rf bin
