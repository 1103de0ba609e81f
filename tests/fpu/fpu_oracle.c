/* The FPU differential test's oracle: a riscv64 Linux program, run under
 * qemu-riscv64, that executes the real F/D instruction for each test vector
 * read from stdin (struct fpu_vec) and writes its result bits and fflags to
 * stdout (struct fpu_res). frm is set to the vector's rounding mode and the
 * instruction uses the dynamic mode, so one encoding serves all five. */
#include <stdint.h>
#include <stdio.h>

#include "fpu_ops.h"

/* Set frm, clear fflags, load operands, run one instruction, read the result
 * and fflags: all in one asm statement so nothing else touches the FPU
 * state in between. */
#define RUN(load, body, store)                                                                 \
    __asm__ volatile("fsrm %[rm]\n\t"                                                          \
                     "csrw fflags, zero\n\t" load body store "\n\t"                            \
                     "frflags %[fl]"                                                           \
                     : [r] "=&r"(r), [fl] "=&r"(fl)                                            \
                     : [rm] "r"(rm), [a] "r"(a), [b] "r"(b), [c] "r"(c)                        \
                     : "ft0", "ft1", "ft2", "ft3")

#define LOAD_S "fmv.w.x ft0, %[a]\n\tfmv.w.x ft1, %[b]\n\tfmv.w.x ft2, %[c]\n\t"
#define LOAD_D "fmv.d.x ft0, %[a]\n\tfmv.d.x ft1, %[b]\n\tfmv.d.x ft2, %[c]\n\t"
#define STORE_S "\n\tfmv.x.w %[r], ft3"
#define STORE_D "\n\tfmv.x.d %[r], ft3"

static int run(const struct fpu_vec *v, struct fpu_res *out)
{
    uint64_t a = v->a, b = v->b, c = v->c, rm = v->rm, r = 0, fl = 0;
    switch (v->op) {
    case OP_f32_add: RUN(LOAD_S, "fadd.s ft3, ft0, ft1", STORE_S); break;
    case OP_f32_sub: RUN(LOAD_S, "fsub.s ft3, ft0, ft1", STORE_S); break;
    case OP_f32_mul: RUN(LOAD_S, "fmul.s ft3, ft0, ft1", STORE_S); break;
    case OP_f32_div: RUN(LOAD_S, "fdiv.s ft3, ft0, ft1", STORE_S); break;
    case OP_f32_sqrt: RUN(LOAD_S, "fsqrt.s ft3, ft0", STORE_S); break;
    case OP_f32_fmadd: RUN(LOAD_S, "fmadd.s ft3, ft0, ft1, ft2", STORE_S); break;
    case OP_f32_fmsub: RUN(LOAD_S, "fmsub.s ft3, ft0, ft1, ft2", STORE_S); break;
    case OP_f32_fnmsub: RUN(LOAD_S, "fnmsub.s ft3, ft0, ft1, ft2", STORE_S); break;
    case OP_f32_fnmadd: RUN(LOAD_S, "fnmadd.s ft3, ft0, ft1, ft2", STORE_S); break;
    case OP_f32_min: RUN(LOAD_S, "fmin.s ft3, ft0, ft1", STORE_S); break;
    case OP_f32_max: RUN(LOAD_S, "fmax.s ft3, ft0, ft1", STORE_S); break;
    case OP_f32_eq: RUN(LOAD_S, "feq.s %[r], ft0, ft1", ""); break;
    case OP_f32_lt: RUN(LOAD_S, "flt.s %[r], ft0, ft1", ""); break;
    case OP_f32_le: RUN(LOAD_S, "fle.s %[r], ft0, ft1", ""); break;
    case OP_f32_class: RUN(LOAD_S, "fclass.s %[r], ft0", ""); break;
    case OP_f32_to_i32: RUN(LOAD_S, "fcvt.w.s %[r], ft0", ""); break;
    case OP_f32_to_u32: RUN(LOAD_S, "fcvt.wu.s %[r], ft0", ""); break;
    case OP_f32_to_i64: RUN(LOAD_S, "fcvt.l.s %[r], ft0", ""); break;
    case OP_f32_to_u64: RUN(LOAD_S, "fcvt.lu.s %[r], ft0", ""); break;
    case OP_i32_to_f32: RUN("", "fcvt.s.w ft3, %[a]", STORE_S); break;
    case OP_u32_to_f32: RUN("", "fcvt.s.wu ft3, %[a]", STORE_S); break;
    case OP_i64_to_f32: RUN("", "fcvt.s.l ft3, %[a]", STORE_S); break;
    case OP_u64_to_f32: RUN("", "fcvt.s.lu ft3, %[a]", STORE_S); break;
    case OP_f64_add: RUN(LOAD_D, "fadd.d ft3, ft0, ft1", STORE_D); break;
    case OP_f64_sub: RUN(LOAD_D, "fsub.d ft3, ft0, ft1", STORE_D); break;
    case OP_f64_mul: RUN(LOAD_D, "fmul.d ft3, ft0, ft1", STORE_D); break;
    case OP_f64_div: RUN(LOAD_D, "fdiv.d ft3, ft0, ft1", STORE_D); break;
    case OP_f64_sqrt: RUN(LOAD_D, "fsqrt.d ft3, ft0", STORE_D); break;
    case OP_f64_fmadd: RUN(LOAD_D, "fmadd.d ft3, ft0, ft1, ft2", STORE_D); break;
    case OP_f64_fmsub: RUN(LOAD_D, "fmsub.d ft3, ft0, ft1, ft2", STORE_D); break;
    case OP_f64_fnmsub: RUN(LOAD_D, "fnmsub.d ft3, ft0, ft1, ft2", STORE_D); break;
    case OP_f64_fnmadd: RUN(LOAD_D, "fnmadd.d ft3, ft0, ft1, ft2", STORE_D); break;
    case OP_f64_min: RUN(LOAD_D, "fmin.d ft3, ft0, ft1", STORE_D); break;
    case OP_f64_max: RUN(LOAD_D, "fmax.d ft3, ft0, ft1", STORE_D); break;
    case OP_f64_eq: RUN(LOAD_D, "feq.d %[r], ft0, ft1", ""); break;
    case OP_f64_lt: RUN(LOAD_D, "flt.d %[r], ft0, ft1", ""); break;
    case OP_f64_le: RUN(LOAD_D, "fle.d %[r], ft0, ft1", ""); break;
    case OP_f64_class: RUN(LOAD_D, "fclass.d %[r], ft0", ""); break;
    case OP_f64_to_i32: RUN(LOAD_D, "fcvt.w.d %[r], ft0", ""); break;
    case OP_f64_to_u32: RUN(LOAD_D, "fcvt.wu.d %[r], ft0", ""); break;
    case OP_f64_to_i64: RUN(LOAD_D, "fcvt.l.d %[r], ft0", ""); break;
    case OP_f64_to_u64: RUN(LOAD_D, "fcvt.lu.d %[r], ft0", ""); break;
    case OP_i32_to_f64: RUN("", "fcvt.d.w ft3, %[a]", STORE_D); break;
    case OP_u32_to_f64: RUN("", "fcvt.d.wu ft3, %[a]", STORE_D); break;
    case OP_i64_to_f64: RUN("", "fcvt.d.l ft3, %[a]", STORE_D); break;
    case OP_u64_to_f64: RUN("", "fcvt.d.lu ft3, %[a]", STORE_D); break;
    case OP_f32_to_f64: RUN(LOAD_S, "fcvt.d.s ft3, ft0", STORE_D); break;
    case OP_f64_to_f32: RUN(LOAD_D, "fcvt.s.d ft3, ft0", STORE_S); break;
    default: return -1;
    }
    out->bits = r;
    out->flags = fl;
    return 0;
}

int main(void)
{
    static struct fpu_vec in[4096];
    static struct fpu_res out[4096];
    size_t n;
    while ((n = fread(in, sizeof in[0], sizeof in / sizeof in[0], stdin)) > 0) {
        for (size_t i = 0; i < n; i++) {
            if (in[i].rm > 4 || run(&in[i], &out[i]) != 0) {
                fprintf(stderr, "fpu_oracle: bad vector %zu (op %u rm %u)\n", i, in[i].op, in[i].rm);
                return 1;
            }
        }
        if (fwrite(out, sizeof out[0], n, stdout) != n) {
            perror("fpu_oracle: write");
            return 1;
        }
    }
    return ferror(stdin) ? 1 : 0;
}
