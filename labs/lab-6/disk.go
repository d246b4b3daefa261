package lab6

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"

	"github.com/bpflab/bpflab/internal/fileutil"
	"github.com/bpflab/bpflab/vmtest"
	"github.com/bpflab/bpflab/vmtest/kernels"
	"golang.org/x/sys/unix"
)

// Where the target lives. Before the program is loaded, the grader puts a
// file system of its own over the guest's /etc: ext2 on a loop device
// (block major 7), whose minor is the device minor of the tmpfs that
// holds the decoy with the target's inode number; it copies /etc into it
// after a random number of files of its own, so the target's inode number
// differs from run to run. A device number then has a major that is not 0,
// a program that drops or misplaces it denies the decoy or misses the
// target, and a program that hard-codes what it saw once misses it. Where
// the kernel cannot have a loop device (no loop module), /etc is a tmpfs
// of its own instead, and the report says so.

// loopMajor is the block major of loop devices (LOOP_MAJOR).
const loopMajor = 7

// fsSource is the source of the grader's own mounts, so that a run finds
// what an earlier worker left mounted (one that was killed, or whose
// program did not load, which never runs the scenario to undo them).
const fsSource = "bpflab-lab6"

// disk is what readObject made for the run, undone by remove.
type disk struct {
	dir     string // a directory of the run's, in the guest's /tmp
	decoyFS string // a tmpfs whose device minor is the target's
	loop    int    // the loop device's index (its minor), or -1
	// fillers are files of the target's file system, made before it.
	fillers []string
	note    string // why the target is not on a block device
	bound   bool   // the run's /etc is in place
}

// prepared is the run's disk, made by readObject.
var prepared *disk

// loopFile is the name of the loop module of kernel release among the
// lab's files (a flat directory), without the .ko or .ko.xz.
func loopFile(release string) string { return "loop-" + release }

// build copies the loop module of every kernel in bpflab's cache among the
// lab's files (out), named by loopFile: the guest that grades has no module
// tree of its own.
func build(_ context.Context, _, out string) error {
	root := filepath.Join(kernels.DefaultDir(), "kernels")
	var found []string
	for _, pat := range []string{"*/lib/modules/*/kernel/drivers/block/loop.ko*", "*/usr/lib/modules/*/kernel/drivers/block/loop.ko*"} {
		m, _ := filepath.Glob(filepath.Join(root, pat))
		found = append(found, m...)
	}
	for _, m := range found {
		release := filepath.Base(filepath.Dir(filepath.Dir(filepath.Dir(filepath.Dir(m)))))
		dst := filepath.Join(out, loopFile(release)+strings.TrimPrefix(filepath.Base(m), "loop"))
		if err := fileutil.Copy(m, dst, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// loadLoop makes sure the kernel has loop devices: built in, loaded, or
// loaded now from the lab's files.
func loadLoop() error {
	if _, err := os.Stat("/dev/loop-control"); err == nil {
		return nil
	}
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return err
	}
	release := unix.ByteSliceToString(u.Release[:])
	files, _ := filepath.Glob(filepath.Join(os.Getenv("BPFLAB_LAB_FILES"), loopFile(release)+".ko*"))
	if len(files) == 0 {
		return fmt.Errorf("no loop module for kernel %s among the lab's files", release)
	}
	if err := vmtest.InsertModule(files[0]); err != nil {
		return err
	}
	if _, err := os.Stat("/dev/loop-control"); err != nil {
		return fmt.Errorf("the loop module loaded, but: %w", err)
	}
	return nil
}

// attachLoop binds the loop device of index idx (made if it is missing) to
// the file backing, to be detached when its last user (the mount) is gone.
// It returns the device open: close it once the file system is mounted.
func attachLoop(idx int, backing string) (*os.File, error) {
	ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	_, _, e := unix.Syscall(unix.SYS_IOCTL, ctl.Fd(), unix.LOOP_CTL_ADD, uintptr(idx))
	ctl.Close()
	if e != 0 && e != unix.EEXIST {
		return nil, fmt.Errorf("adding loop device %d: %w", idx, e)
	}
	node := fmt.Sprintf("/dev/loop%d", idx)
	var st unix.Stat_t
	if unix.Stat(node, &st) != nil || st.Rdev != unix.Mkdev(loopMajor, uint32(idx)) {
		// devtmpfs makes it; it may not have yet.
		_ = os.Remove(node)
		if err := unix.Mknod(node, unix.S_IFBLK|0o600, int(unix.Mkdev(loopMajor, uint32(idx)))); err != nil {
			return nil, fmt.Errorf("making a node for loop device %d: %w", idx, err)
		}
	}
	dev, err := os.OpenFile(node, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	back, err := os.OpenFile(backing, os.O_RDWR, 0)
	if err != nil {
		dev.Close()
		return nil, err
	}
	defer back.Close()
	err = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_SET_FD, int(back.Fd()))
	if errors.Is(err, unix.EBUSY) {
		// Left bound by an earlier run.
		_ = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0)
		err = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_SET_FD, int(back.Fd()))
	}
	if err != nil {
		dev.Close()
		return nil, fmt.Errorf("binding loop device %d to %s: %w", idx, backing, err)
	}
	info := unix.LoopInfo64{Flags: unix.LO_FLAGS_AUTOCLEAR}
	if err := unix.IoctlLoopSetStatus64(int(dev.Fd()), &info); err != nil {
		_ = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0)
		dev.Close()
		return nil, fmt.Errorf("setting loop device %d to detach itself: %w", idx, err)
	}
	return dev, nil
}

// ext2 geometry: 1 KiB blocks, one block group.
const (
	ext2Block  = 1024
	ext2Blocks = 4096
	ext2Inodes = 1024
)

// writeExt2 writes an empty ext2 file system (revision 0: no features, 128-
// byte inodes, the first 10 inodes reserved) to the new file name: a root
// directory and nothing else. The kernel's ext4 driver mounts it as ext2.
func writeExt2(name string) error {
	const (
		sbBlock, gdBlock, bbBlock, ibBlock, itBlock = 1, 2, 3, 4, 5
		itBlocks                                    = ext2Inodes * 128 / ext2Block
		rootBlock                                   = itBlock + itBlocks
		usedBlocks                                  = rootBlock // blocks 1..rootBlock
		freeBlocks                                  = ext2Blocks - 1 - usedBlocks
		freeInodes                                  = ext2Inodes - 10
	)
	img := make([]byte, (rootBlock+1)*ext2Block)
	le := binary.LittleEndian
	at := func(block, off int) []byte { return img[block*ext2Block+off:] }

	sb := at(sbBlock, 0)
	le.PutUint32(sb[0:], ext2Inodes)
	le.PutUint32(sb[4:], ext2Blocks)
	le.PutUint32(sb[12:], freeBlocks)
	le.PutUint32(sb[16:], freeInodes)
	le.PutUint32(sb[20:], 1)    // s_first_data_block
	le.PutUint32(sb[32:], 8192) // s_blocks_per_group
	le.PutUint32(sb[36:], 8192) // s_frags_per_group
	le.PutUint32(sb[40:], ext2Inodes)
	le.PutUint16(sb[54:], 0xffff) // s_max_mnt_count: -1
	le.PutUint16(sb[56:], 0xef53) // s_magic
	le.PutUint16(sb[58:], 1)      // s_state: clean
	le.PutUint16(sb[60:], 1)      // s_errors: continue

	gd := at(gdBlock, 0)
	le.PutUint32(gd[0:], bbBlock)
	le.PutUint32(gd[4:], ibBlock)
	le.PutUint32(gd[8:], itBlock)
	le.PutUint16(gd[12:], freeBlocks)
	le.PutUint16(gd[14:], freeInodes)
	le.PutUint16(gd[16:], 1) // bg_used_dirs_count

	setBits := func(bitmap []byte, from, to int) {
		for i := from; i < to; i++ {
			bitmap[i/8] |= 1 << (i % 8)
		}
	}
	// Bit i is block 1+i; the bits past the last block are set, as
	// mke2fs sets them.
	setBits(at(bbBlock, 0)[:ext2Block], 0, usedBlocks)
	setBits(at(bbBlock, 0)[:ext2Block], ext2Blocks-1, ext2Block*8)
	setBits(at(ibBlock, 0)[:ext2Block], 0, 10)
	setBits(at(ibBlock, 0)[:ext2Block], ext2Inodes, ext2Block*8)

	root := at(itBlock, 128) // inode 2
	le.PutUint16(root[0:], unix.S_IFDIR|0o755)
	le.PutUint32(root[4:], ext2Block)      // i_size
	le.PutUint16(root[26:], 2)             // i_links_count
	le.PutUint32(root[28:], ext2Block/512) // i_blocks, in sectors
	le.PutUint32(root[40:], rootBlock)     // i_block[0]

	dir := at(rootBlock, 0)
	le.PutUint32(dir[0:], 2)
	le.PutUint16(dir[4:], 12)
	le.PutUint16(dir[6:], 1) // name_len: 16 bits in revision 0
	copy(dir[8:], ".")
	le.PutUint32(dir[12:], 2)
	le.PutUint16(dir[16:], ext2Block-12)
	le.PutUint16(dir[18:], 2)
	copy(dir[20:], "..")

	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.Write(img)
	if err == nil {
		err = f.Truncate(ext2Blocks * ext2Block)
	}
	return errors.Join(err, f.Close())
}

// leftovers are the mount points of the grader's own mounts that an earlier
// worker left, deepest first: /etc when it is ours, and tmpfs mounts named
// fsSource.
func leftovers() []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	s := bufio.NewScanner(f)
	for s.Scan() {
		fields := strings.Fields(s.Text())
		sep := -1
		for i, w := range fields {
			if w == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+2 >= len(fields) || len(fields) < 5 {
			continue
		}
		point, source := fields[4], fields[sep+2]
		if strings.HasPrefix(source, fsSource) || (point == "/etc" && strings.Contains(source, "loop")) {
			out = append(out, point)
		}
	}
	// Later mounts are on top of earlier ones.
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// defaultPasswd is /etc/passwd's content in a guest that has none.
const defaultPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"

// prepare makes the run's /etc (see the top of this file).
func prepare(r *rand.Rand) (d *disk, err error) {
	for _, p := range leftovers() {
		_ = unix.Unmount(p, unix.MNT_DETACH)
	}
	d = &disk{loop: -1}
	defer func() {
		if err != nil {
			d.remove()
		}
	}()
	if d.dir, err = os.MkdirTemp("", "tmp."); err != nil {
		return d, err
	}
	d.decoyFS = filepath.Join(d.dir, fmt.Sprintf("fs-%06d", r.IntN(1e6)))
	if err := os.Mkdir(d.decoyFS, 0o755); err != nil {
		return d, err
	}
	if err := unix.Mount(fsSource, d.decoyFS, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
		return d, fmt.Errorf("mounting a tmpfs at %s: %w", d.decoyFS, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(d.decoyFS, &st); err != nil {
		return d, err
	}
	minor := int(unix.Minor(st.Dev))

	staging := filepath.Join(d.dir, randomName(r))
	if err := os.Mkdir(staging, 0o755); err != nil {
		return d, err
	}
	if why := d.mountDisk(minor, staging); why != nil {
		d.note = fmt.Sprintf("/etc/passwd was on a tmpfs, not on a block device, in this run: %v", why)
		if err := unix.Mount(fsSource+"-etc", staging, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
			return d, fmt.Errorf("mounting a tmpfs for /etc: %w", err)
		}
	}
	defer unix.Unmount(staging, unix.MNT_DETACH)
	// A directory etc of the file system, not its root, becomes /etc: the
	// target's directory is named etc, as on any system.
	etc := filepath.Join(staging, "etc")
	if err := os.Mkdir(etc, 0o755); err != nil {
		return d, err
	}

	// Files before the target's, so its inode number is not the same in
	// every run: some of them are opened as decoys.
	fillers := filepath.Join(etc, randomName(r))
	if err := os.Mkdir(fillers, 0o755); err != nil {
		return d, err
	}
	for n := 3 + r.IntN(150); n > 0; n-- {
		name := filepath.Join(fillers, randomName(r))
		if err := os.WriteFile(name, []byte(randomName(r)+"\n"), 0o644); err != nil && !errors.Is(err, fs.ErrExist) {
			return d, err
		}
		d.fillers = append(d.fillers, filepath.Join("/etc", filepath.Base(fillers), filepath.Base(name)))
	}
	if err := copyTree("/etc", etc); err != nil {
		return d, fmt.Errorf("copying /etc: %w", err)
	}
	if _, err := os.Stat(filepath.Join(etc, "passwd")); errors.Is(err, fs.ErrNotExist) {
		if err := os.WriteFile(filepath.Join(etc, "passwd"), []byte(defaultPasswd), 0o644); err != nil {
			return d, err
		}
	}
	if err := unix.Mount(etc, "/etc", "", unix.MS_BIND, ""); err != nil {
		return d, fmt.Errorf("putting the run's /etc in place: %w", err)
	}
	d.bound = true
	return d, nil
}

// mountDisk mounts at dir a new ext2 file system on the loop device whose
// minor is minor. It returns why it could not.
func (d *disk) mountDisk(minor int, dir string) error {
	if err := loadLoop(); err != nil {
		return err
	}
	img := filepath.Join(d.dir, fmt.Sprintf("img-%d", minor))
	if err := writeExt2(img); err != nil {
		return err
	}
	dev, err := attachLoop(minor, img)
	if err != nil {
		return err
	}
	defer dev.Close() // the mount holds it; autoclear detaches it after
	d.loop = minor
	if err := unix.Mount(dev.Name(), dir, "ext2", unix.MS_NOSUID|unix.MS_NODEV, ""); err != nil {
		_ = unix.IoctlSetInt(int(dev.Fd()), unix.LOOP_CLR_FD, 0)
		return fmt.Errorf("mounting ext2 on loop device %d: %w", minor, err)
	}
	return nil
}

// copyTree copies the directories, regular files and symbolic links under
// src into dst, which exists; files that are already there are kept.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		if rel == "." {
			return nil
		}
		if _, err := os.Lstat(to); err == nil {
			return nil
		}
		info, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			return os.Mkdir(to, info.Mode().Perm())
		case e.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(t, to)
		case e.Type().IsRegular():
			return fileutil.Copy(p, to, info.Mode().Perm())
		}
		return nil
	})
}

// remove undoes what prepare made.
func (d *disk) remove() {
	if d.bound {
		_ = unix.Unmount("/etc", unix.MNT_DETACH)
	}
	if d.decoyFS != "" {
		_ = unix.Unmount(d.decoyFS, unix.MNT_DETACH)
	}
	if d.loop >= 0 {
		if ctl, err := os.OpenFile("/dev/loop-control", os.O_RDWR, 0); err == nil {
			// Once autoclear has detached it; else it stays, unbound,
			// for the next run.
			_, _, _ = unix.Syscall(unix.SYS_IOCTL, ctl.Fd(), unix.LOOP_CTL_REMOVE, uintptr(d.loop))
			ctl.Close()
		}
	}
	if d.dir != "" {
		_ = os.RemoveAll(d.dir)
	}
}
