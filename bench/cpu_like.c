/* Preloaded into the bench's task processes by ``python -m bench --cpu-like NAME`` (bench/cpu_like.py):
 * makes this process's CPUID instruction fault (Linux's ARCH_SET_CPUID, on CPUs with CPUID faulting)
 * and answers it with the features NAME lacks cleared, so torch, oneDNN, onnxruntime and numpy pick
 * the kernels they pick on that older CPU, at this CPU's own speed. No library can do this: each reads
 * CPUID itself, and only some (oneDNN, ATen) take a variable that caps their choice.
 *
 * BENCH_CPU_LIKE names the CPU: haswell (AVX2 and FMA), skylake-avx512 (+ AVX-512 F/CD/BW/DQ/VL),
 * cascadelake (+ AVX512-VNNI), alderlake (AVX2 + AVX-VNNI). AMX, AVX512-BF16/FP16 and later
 * extensions are cleared for all. A feature this CPU lacks is never added. */
#define _GNU_SOURCE
#include <asm/prctl.h>
#include <cpuid.h>
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

static int active, avx512, avx512_vnni, avx_vnni;
static struct sigaction theirs; /* a SIGSEGV handler installed after ours (Python's faulthandler): chained */

#define BIT(n) (1u << (n))

static void mask(unsigned leaf, unsigned sub, unsigned *a, unsigned *b, unsigned *c, unsigned *d) {
  if (leaf == 7 && sub == 0) {
    if (!avx512) {
      *b &= ~(BIT(16) | BIT(17) | BIT(21) | BIT(26) | BIT(27) | BIT(28) | BIT(30) | BIT(31)); /* F DQ IFMA PF ER CD BW VL */
      *c &= ~BIT(11);                                                                    /* AVX512-VNNI */
    }
    if (!avx512_vnni) *c &= ~BIT(11);
    *b &= ~BIT(21);                                           /* AVX512-IFMA */
    *c &= ~(BIT(1) | BIT(6) | BIT(12) | BIT(14));             /* AVX512 VBMI, VBMI2, BITALG, VPOPCNTDQ */
    *d &= ~(BIT(2) | BIT(3) | BIT(8) | BIT(22) | BIT(23) | BIT(24) | BIT(25)); /* 4VNNIW 4FMAPS VP2INTERSECT AMX-BF16 FP16 AMX-TILE AMX-INT8 */
  } else if (leaf == 7 && sub == 1) {
    *a &= ~(BIT(5) | BIT(21) | BIT(23));                     /* AVX512-BF16, AMX-FP16, AVX-IFMA */
    if (!avx_vnni) *a &= ~BIT(4);                             /* AVX-VNNI */
    *d &= ~(BIT(4) | BIT(5) | BIT(8) | BIT(10) | BIT(19));    /* AVX-VNNI-INT8, NE-CONVERT, AMX-COMPLEX, AVX-VNNI-INT16, AVX10 */
  } else if ((leaf == 7 && sub > 1) || leaf == 0x1d || leaf == 0x1e || leaf == 0x24) {
    *a = *b = *c = *d = 0;                                    /* AMX tiles, AVX10 */
  }
}

typedef int (*sigaction_fn)(int, const struct sigaction *, struct sigaction *);

static sigaction_fn real_sigaction(void) {
  static sigaction_fn real;
  if (!real) real = (sigaction_fn)dlsym(RTLD_NEXT, "sigaction");
  return real;
}

static void on_segv(int sig, siginfo_t *info, void *context) {
  greg_t *regs = ((ucontext_t *)context)->uc_mcontext.gregs;
  const unsigned char *ip = (const unsigned char *)regs[REG_RIP];
  if (info->si_code == SI_KERNEL && ip[0] == 0x0f && ip[1] == 0xa2) { /* the faulting CPUID */
    unsigned a, b, c, d, leaf = (unsigned)regs[REG_RAX], sub = (unsigned)regs[REG_RCX];
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 1);
    __cpuid_count(leaf, sub, a, b, c, d);
    syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0);
    mask(leaf, sub, &a, &b, &c, &d);
    regs[REG_RAX] = a, regs[REG_RBX] = b, regs[REG_RCX] = c, regs[REG_RDX] = d;
    regs[REG_RIP] += 2;
    return;
  }
  if ((theirs.sa_flags & SA_SIGINFO) && theirs.sa_sigaction) {
    theirs.sa_sigaction(sig, info, context);
  } else if (theirs.sa_handler != SIG_DFL && theirs.sa_handler != SIG_IGN) {
    theirs.sa_handler(sig);
  } else { /* a real crash: the default action when the instruction faults again */
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    real_sigaction()(SIGSEGV, &fallback, NULL);
  }
}

/* Ours stays first: a later SIGSEGV handler is kept and called for every other fault. */
int sigaction(int sig, const struct sigaction *act, struct sigaction *old) {
  if (sig != SIGSEGV || !active) return real_sigaction()(sig, act, old);
  if (old) *old = theirs;
  if (act) theirs = *act;
  return 0;
}

sighandler_t signal(int sig, sighandler_t handler) {
  struct sigaction act, old;
  memset(&act, 0, sizeof act);
  act.sa_handler = handler;
  sigemptyset(&act.sa_mask);
  act.sa_flags = SA_RESTART;
  if (sigaction(sig, &act, &old) != 0) return SIG_ERR;
  return old.sa_handler;
}

__attribute__((constructor)) static void start(void) {
  const char *name = getenv("BENCH_CPU_LIKE");
  if (!name || !*name) return;
  if (!strcmp(name, "haswell")) {
  } else if (!strcmp(name, "skylake-avx512")) {
    avx512 = 1;
  } else if (!strcmp(name, "cascadelake")) {
    avx512 = avx512_vnni = 1;
  } else if (!strcmp(name, "alderlake")) {
    avx_vnni = 1;
  } else {
    fprintf(stderr, "cpu_like: unknown BENCH_CPU_LIKE=%s\n", name);
    _exit(70);
  }
  struct sigaction act;
  memset(&act, 0, sizeof act);
  act.sa_sigaction = on_segv;
  act.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigemptyset(&act.sa_mask);
  if (real_sigaction()(SIGSEGV, &act, NULL) != 0 || syscall(SYS_arch_prctl, ARCH_SET_CPUID, 0) != 0) {
    perror("cpu_like: cannot make CPUID fault on this CPU");
    _exit(70);
  }
  active = 1;
}
