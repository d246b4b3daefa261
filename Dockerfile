# An image that grades bpflab's labs without privileges: the student's
# working tree is mounted at /work and 'make lab-1' runs there. The BPF
# programs run in stock Debian kernels booted in QEMU inside the container,
# never in the host's kernel. docs/container.md says how to build and run it.
#
#   docker build -t bpflab .
#   docker run --rm -it --user "$(id -u):$(id -g)" \
#     -v "$PWD:/work" -v bpflab-cache:/home/bpflab/.cache \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     --security-opt systempaths=unconfined bpflab
#
# BASE is a Debian image: bookworm (what bpflab's build machines run) and
# trixie both pass scripts/container-check.sh (SUITE=trixie for the latter).
# scripts/container-check.sh builds on a root it makes with debootstrap.
ARG BASE=debian:bookworm
FROM ${BASE}

# What scripts/deps.sh installs, and what building bpflab needs (gcc, make,
# git), without recommends. golang-go is only the bootstrap for the Go of
# go.mod (below). bpflab fetches kernels with apt-get download from the
# archive in this image's apt sources, so apt and the Debian keyring stay.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      bpftool bubblewrap busybox-static ca-certificates clang \
      debian-archive-keyring gcc git golang-go libbpf-dev libc6-dev llvm make \
      qemu-system-x86 systemtap-sdt-dev util-linux \
 && rm -rf /var/lib/apt/lists/*

# Go: the release go.mod asks for (its toolchain line, else its go line).
# Debian's Go is older; it only downloads that release from the Go module
# proxy as the module golang.org/toolchain (as GOTOOLCHAIN=auto does,
# checked against the checksum database), which is copied to /usr/local/go
# with its commands made executable (module files are not). Debian's Go is
# then removed. The modules go.sum lists are downloaded too, so building
# bpflab needs no network while go.mod is unchanged. GOPATH is writable by
# every user, so that any --user can add the modules of a newer go.mod.
ENV GOPATH=/go \
    PATH=/usr/local/go/bin:/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
COPY go.mod go.sum /tmp/bpflab/
RUN v=$(awk '$1 == "toolchain" { t = $2 } $1 == "go" { g = "go" $2 } END { print (t != "" ? t : g) }' /tmp/bpflab/go.mod) \
 && mod="golang.org/toolchain@v0.0.1-$v.$(go env GOOS)-$(go env GOARCH)" \
 && if ! (cd / && GOTOOLCHAIN=local GOPATH=/tmp/gopath go mod download -json "$mod" >/tmp/toolchain.json); then \
      cat /tmp/toolchain.json; exit 1; \
    fi \
 && dir=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' /tmp/toolchain.json) \
 && cp -a "$dir" /usr/local/go \
 && chmod -R u+w /usr/local/go /tmp/gopath \
 && chmod -R a+x /usr/local/go/bin /usr/local/go/pkg/tool \
 && rm -rf /tmp/gopath /tmp/toolchain.json \
 && DEBIAN_FRONTEND=noninteractive apt-get purge -y --auto-remove golang-go \
 && go version \
 && cd /tmp/bpflab \
 && GOFLAGS=-modcacherw go mod download \
 && chmod -R a+rwX /go \
 && rm -rf /tmp/bpflab /root/.cache

# Git refuses a repository owned by another user ("dubious ownership"),
# and go build then cannot stamp bpflab's version (its commit) into the
# binary: the tree mounted at /work is the user's own, whatever the uid.
RUN git config --system --add safe.directory '*'

# Grading needs no root. The default user is bpflab (uid 1000); any other
# uid works with --user (give your own, so that bin/bpflab in your tree is
# yours). The cache is a volume: kernels in bpflab/ (fetched on first use)
# and Go's build cache in go-build/. It is writable by every uid (mode
# 1777, which a new named volume takes from the image).
RUN useradd --create-home --uid 1000 --user-group --shell /bin/bash bpflab \
 && chmod 755 /home/bpflab \
 && install -d -m 1777 /home/bpflab/.cache
ENV HOME=/home/bpflab
USER bpflab
VOLUME /home/bpflab/.cache
WORKDIR /work
CMD ["make", "lab-1"]
