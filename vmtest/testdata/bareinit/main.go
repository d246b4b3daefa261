// Command bareinit is the smallest init there is: it powers the machine off.
// BenchmarkBoot boots it to measure a kernel's bare boot time.
package main

import "syscall"

func main() {
	_ = syscall.Reboot(syscall.LINUX_REBOOT_CMD_POWER_OFF)
}
