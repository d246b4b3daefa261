// Package kernels manages bpflab's kernel matrix: the committed lock file
// that pins Debian's stock cloud kernels by package, version and SHA256,
// fetching them with apt-get through a private apt state directory, and the
// cache that holds their extracted images.
//
// The system's apt configuration is never changed: the archive's address is
// read from it (or from BPFLAB_DEBIAN_MIRROR) and used in a sources list of
// bpflab's own under the cache directory.
package kernels
