//! What the kernel enforces on a sandbox worker process, set by the worker itself
//! (see `worker.rs`) in two steps:
//!
//! 1. [`before_engine`]: die with the parent (`PR_SET_PDEATHSIG`), no inherited
//!    descriptors beyond stdin/stdout/stderr, no core dumps, and the resource limits:
//!    `RLIMIT_AS` (all the memory the process may map, whatever the engine's heap
//!    accounting sees) and `RLIMIT_CPU` (a lifetime budget far above one check: the
//!    worker retires itself before it; it only matters if the parent stops watching).
//! 2. [`lock_down`], once the engine has loaded the compiler: `PR_SET_NO_NEW_PRIVS` and
//!    a seccomp filter on every thread. The filter denies (`EPERM`) the calls that
//!    reach outside the process: opening or creating files by path, sockets, new
//!    processes (`fork`, `clone` without `CLONE_THREAD`, `execve`), signals to other
//!    processes, `ptrace` and cross-process memory access, `ioctl` (no `TIOCSTI` into a
//!    terminal), raising limits, namespaces, mounts, kernel interfaces (modules, BPF,
//!    `io_uring`, keyrings, `userfaultfd`), and new executable memory. Calls newer than
//!    the filter get `ENOSYS`, which C libraries take as "fall back". Everything a
//!    runtime does inside its own memory (allocation, threads, futexes, clocks, the
//!    pipes it already holds) is allowed.
//!
//! A deny list rather than an allow list: an allow list breaks when a new C library or
//! kernel starts using a call it lacks, which on a student's machine would be a sandbox
//! that never starts; the calls a deny list must name are the few that touch the world
//! outside the process, and `ENOSYS` for unknown numbers covers calls added later.
//! Namespaces (`unshare(CLONE_NEWUSER | CLONE_NEWNET)`) were not chosen: they need user
//! namespaces, which distributions disable or restrict for unprivileged users, while
//! seccomp with `NO_NEW_PRIVS` works for any user on any Linux since 3.5 and inside
//! containers.

/// The kernel limits of one worker.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// `RLIMIT_AS`, bytes.
    pub address_space: u64,
    /// `RLIMIT_CPU` soft limit, seconds (SIGXCPU; the hard limit is a little above).
    pub cpu_seconds: u64,
}

/// Descriptors other than stdin, stdout and stderr are closed (none should be inherited).
pub(crate) fn close_inherited_descriptors() {
    #[cfg(target_os = "linux")]
    // SAFETY: close_range only closes descriptors; none above 2 is in use this early.
    unsafe {
        libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
    }
}

/// Step 1, before the engine starts: parent death, core dumps, memory and CPU limits.
pub(crate) fn before_engine(limits: &Limits, parent: u32) -> Result<(), String> {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain prctl/getppid calls with constant arguments.
        unsafe {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(format!("PR_SET_PDEATHSIG: {}", std::io::Error::last_os_error()));
            }
            // The parent may have died before the line above: then nobody would kill us.
            if libc::getppid() as u32 != parent {
                return Err("the parent process is gone".into());
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = parent;
    #[cfg(unix)]
    {
        set_limit(libc::RLIMIT_CORE, 0, 0)?;
        set_limit(libc::RLIMIT_AS, limits.address_space, limits.address_space)?;
        set_limit(libc::RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 5)?;
    }
    #[cfg(not(unix))]
    let _ = limits;
    Ok(())
}

#[cfg(unix)]
fn set_limit(resource: ResourceKind, soft: u64, hard: u64) -> Result<(), String> {
    let limit = libc::rlimit { rlim_cur: soft as libc::rlim_t, rlim_max: hard as libc::rlim_t };
    // SAFETY: `limit` is a valid rlimit for the duration of the call.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(format!("setrlimit({resource:?}): {}", std::io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(all(unix, target_os = "linux", target_env = "gnu"))]
type ResourceKind = libc::__rlimit_resource_t;
#[cfg(all(unix, not(all(target_os = "linux", target_env = "gnu"))))]
type ResourceKind = libc::c_int;

/// CPU seconds this process has used (user and system), from `getrusage`.
pub(crate) fn cpu_seconds_used() -> f64 {
    #[cfg(unix)]
    {
        // SAFETY: getrusage fills the zeroed struct it is given.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut usage) } == 0 {
            let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
            return secs(usage.ru_utime) + secs(usage.ru_stime);
        }
    }
    0.0
}

/// Step 2, once the engine is loaded: no new privileges, and the system-call filter on
/// every thread of the process. An error means the kernel refused the filter (the
/// worker then runs with step 1's limits only).
pub(crate) fn lock_down() -> Result<(), String> {
    #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        seccomp::install()
    }
    #[cfg(not(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64"))))]
    {
        Err("no system-call filter on this platform".into())
    }
}

/// Applies both steps to the calling process (with a CPU budget of one minute), for the
/// tests that check what a locked-down process can still do. Not for other uses.
pub fn lock_down_for_test(address_space: usize) -> Result<(), String> {
    // SAFETY: getppid has no preconditions.
    #[cfg(unix)]
    let parent = unsafe { libc::getppid() } as u32;
    #[cfg(not(unix))]
    let parent = 0;
    before_engine(&Limits { address_space: address_space as u64, cpu_seconds: 60 }, parent)?;
    lock_down()
}

#[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod seccomp {
    use libc::{c_long, sock_filter, sock_fprog};

    #[cfg(target_arch = "x86_64")]
    const AUDIT_ARCH: u32 = 0xC000_003E;
    #[cfg(target_arch = "aarch64")]
    const AUDIT_ARCH: u32 = 0xC000_00B7;

    // Offsets in `struct seccomp_data`.
    const NR: u32 = 0;
    const ARCH: u32 = 4;
    const fn arg_low(i: u32) -> u32 {
        16 + 8 * i
    }
    const fn arg_high(i: u32) -> u32 {
        16 + 8 * i + 4
    }

    const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
    const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
    const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
    const JSET: u16 = (libc::BPF_JMP | libc::BPF_JSET | libc::BPF_K) as u16;
    const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

    const ALLOW: u32 = libc::SECCOMP_RET_ALLOW;
    const DENY: u32 = libc::SECCOMP_RET_ERRNO | libc::EPERM as u32;
    const NO_SUCH_CALL: u32 = libc::SECCOMP_RET_ERRNO | libc::ENOSYS as u32;
    const KILL: u32 = libc::SECCOMP_RET_KILL_PROCESS;

    // Numbers from 424 on are the same on every architecture (and may be missing from `libc`).
    const SYS_PIDFD_SEND_SIGNAL: c_long = 424;
    const SYS_IO_URING_SETUP: c_long = 425;
    const SYS_IO_URING_ENTER: c_long = 426;
    const SYS_IO_URING_REGISTER: c_long = 427;
    const SYS_OPEN_TREE: c_long = 428;
    const SYS_MOVE_MOUNT: c_long = 429;
    const SYS_FSOPEN: c_long = 430;
    const SYS_FSCONFIG: c_long = 431;
    const SYS_FSMOUNT: c_long = 432;
    const SYS_FSPICK: c_long = 433;
    const SYS_PIDFD_OPEN: c_long = 434;
    const SYS_CLONE3: c_long = 435;
    const SYS_OPENAT2: c_long = 437;
    const SYS_PIDFD_GETFD: c_long = 438;
    const SYS_PROCESS_MADVISE: c_long = 440;
    const SYS_MOUNT_SETATTR: c_long = 442;
    const SYS_QUOTACTL_FD: c_long = 443;
    const SYS_PROCESS_MRELEASE: c_long = 448;
    const SYS_FCHMODAT2: c_long = 452;
    /// Calls from here on are newer than this filter: `ENOSYS`.
    const FIRST_UNKNOWN: c_long = 463;

    /// Calls denied outright.
    fn denied() -> Vec<c_long> {
        use libc::*;
        let mut calls = vec![
            // Files by path, and descriptors for them.
            SYS_openat, SYS_OPENAT2, SYS_open_by_handle_at, SYS_name_to_handle_at, SYS_execve, SYS_execveat,
            SYS_mknodat, SYS_linkat, SYS_symlinkat, SYS_unlinkat, SYS_renameat, SYS_renameat2, SYS_mkdirat,
            SYS_fchmodat, SYS_FCHMODAT2, SYS_fchownat, SYS_truncate, SYS_utimensat, SYS_setxattr, SYS_lsetxattr,
            SYS_fsetxattr, SYS_removexattr, SYS_lremovexattr, SYS_fremovexattr, SYS_getxattr, SYS_lgetxattr,
            SYS_listxattr, SYS_llistxattr, SYS_inotify_add_watch, SYS_fanotify_init, SYS_fanotify_mark,
            SYS_chroot, SYS_mount, SYS_umount2, SYS_pivot_root, SYS_OPEN_TREE, SYS_MOVE_MOUNT, SYS_FSOPEN,
            SYS_FSCONFIG, SYS_FSMOUNT, SYS_FSPICK, SYS_MOUNT_SETATTR, SYS_swapon, SYS_swapoff, SYS_acct,
            SYS_quotactl, SYS_QUOTACTL_FD,
            // Network.
            SYS_socket, SYS_socketpair, SYS_connect, SYS_bind, SYS_listen, SYS_accept, SYS_accept4,
            // Other processes (new ones, signals, memory, tracing).
            SYS_ptrace, SYS_process_vm_readv, SYS_process_vm_writev, SYS_PROCESS_MADVISE, SYS_PROCESS_MRELEASE,
            SYS_PIDFD_OPEN, SYS_PIDFD_GETFD, SYS_PIDFD_SEND_SIGNAL, SYS_kcmp, SYS_tkill, SYS_rt_sigqueueinfo,
            SYS_rt_tgsigqueueinfo, SYS_move_pages, SYS_migrate_pages, SYS_setpriority, SYS_sched_setscheduler,
            SYS_sched_setparam, SYS_sched_setattr, SYS_ioprio_set,
            // Terminals and devices.
            SYS_ioctl,
            // Privileges, limits, namespaces.
            SYS_setrlimit, SYS_setuid, SYS_setgid, SYS_setreuid, SYS_setregid, SYS_setresuid, SYS_setresgid,
            SYS_setfsuid, SYS_setfsgid, SYS_setgroups, SYS_capset, SYS_unshare, SYS_setns, SYS_personality,
            SYS_seccomp,
            // The kernel's own interfaces.
            SYS_init_module, SYS_finit_module, SYS_delete_module, SYS_kexec_load, SYS_kexec_file_load, SYS_reboot,
            SYS_bpf, SYS_perf_event_open, SYS_userfaultfd, SYS_IO_URING_SETUP, SYS_IO_URING_ENTER,
            SYS_IO_URING_REGISTER, SYS_keyctl, SYS_add_key, SYS_request_key, SYS_syslog, SYS_settimeofday,
            SYS_clock_settime, SYS_clock_adjtime, SYS_adjtimex, SYS_sethostname, SYS_setdomainname, SYS_vhangup,
        ];
        #[cfg(target_arch = "x86_64")]
        calls.extend([
            SYS_open, SYS_creat, SYS_fork, SYS_vfork, SYS_mknod, SYS_link, SYS_symlink, SYS_unlink, SYS_rename,
            SYS_mkdir, SYS_rmdir, SYS_chmod, SYS_chown, SYS_lchown, SYS_utime, SYS_utimes, SYS_futimesat,
            SYS_uselib, SYS_ioperm, SYS_iopl, SYS_modify_ldt, SYS_lookup_dcookie,
        ]);
        calls
    }

    fn stmt(code: u16, k: u32) -> sock_filter {
        sock_filter { code, jt: 0, jf: 0, k }
    }
    fn jump(code: u16, k: u32, jt: u8, jf: u8) -> sock_filter {
        sock_filter { code, jt, jf, k }
    }

    /// The filter program.
    pub(super) fn program() -> Vec<sock_filter> {
        // SAFETY: getpid has no preconditions.
        let pid = unsafe { libc::getpid() } as u32;
        let mut p = vec![
            // Another architecture's calling convention (i386 `int 0x80`) is killed.
            stmt(LD_ABS, ARCH),
            jump(JEQ, AUDIT_ARCH, 1, 0),
            stmt(RET, KILL),
            stmt(LD_ABS, NR),
        ];
        // x32 calls (the 0x40000000 bit) and calls newer than this filter.
        #[cfg(target_arch = "x86_64")]
        p.extend([jump(JGE, 0x4000_0000, 0, 1), stmt(RET, DENY)]);
        p.extend([jump(JGE, FIRST_UNKNOWN as u32, 0, 1), stmt(RET, NO_SUCH_CALL)]);
        // clone3 hides its flags behind a pointer: ENOSYS makes the C library use clone.
        p.extend([jump(JEQ, SYS_CLONE3 as u32, 0, 1), stmt(RET, NO_SUCH_CALL)]);
        for nr in denied() {
            p.extend([jump(JEQ, nr as u32, 0, 1), stmt(RET, DENY)]);
        }
        // clone: threads only.
        p.extend([
            jump(JEQ, libc::SYS_clone as u32, 0, 4),
            stmt(LD_ABS, arg_low(0)),
            jump(JSET, libc::CLONE_THREAD as u32, 1, 0),
            stmt(RET, DENY),
            stmt(RET, ALLOW),
        ]);
        // kill, tgkill: this process only (abort() signals itself).
        for nr in [libc::SYS_kill, libc::SYS_tgkill] {
            p.extend([
                jump(JEQ, nr as u32, 0, 4),
                stmt(LD_ABS, arg_low(0)),
                jump(JEQ, pid, 1, 0),
                stmt(RET, DENY),
                stmt(RET, ALLOW),
            ]);
        }
        // prlimit64: reading limits only (new limit NULL).
        p.extend([
            jump(JEQ, libc::SYS_prlimit64 as u32, 0, 6),
            stmt(LD_ABS, arg_low(2)),
            jump(JEQ, 0, 0, 2),
            stmt(LD_ABS, arg_high(2)),
            jump(JEQ, 0, 1, 0),
            stmt(RET, DENY),
            stmt(RET, ALLOW),
        ]);
        // No new executable memory.
        for nr in [libc::SYS_mmap, libc::SYS_mprotect, libc::SYS_pkey_mprotect] {
            p.extend([
                jump(JEQ, nr as u32, 0, 4),
                stmt(LD_ABS, arg_low(2)),
                jump(JSET, libc::PROT_EXEC as u32, 0, 1),
                stmt(RET, DENY),
                stmt(RET, ALLOW),
            ]);
        }
        p.push(stmt(RET, ALLOW));
        p
    }

    pub(super) fn install() -> Result<(), String> {
        let mut filter = program();
        let prog = sock_fprog { len: filter.len() as libc::c_ushort, filter: filter.as_mut_ptr() };
        // SAFETY: `prog` points at `filter`, alive for the calls; the kernel copies it.
        unsafe {
            if libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) != 0 {
                return Err(format!("PR_SET_NO_NEW_PRIVS: {}", std::io::Error::last_os_error()));
            }
            let flags = libc::SECCOMP_FILTER_FLAG_TSYNC;
            if libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, flags, &prog as *const sock_fprog) != 0 {
                return Err(format!("seccomp filter refused: {}", std::io::Error::last_os_error()));
            }
        }
        Ok(())
    }
}
