#include "textflag.h"

// func dotStereo4(c, win []float32) (l, r float32)
// Per 4 taps: coefficients c0..c3 are spread to (c0 c0 c1 c1) and (c2 c2 c3 c3)
// and multiplied with the interleaved frames (L R L R); lanes 0/2 sum the left
// channel, lanes 1/3 the right. Eight taps per iteration into four accumulators.
TEXT ·dotStereo4(SB), NOSPLIT, $0-56
	MOVQ c_base+0(FP), SI
	MOVQ c_len+8(FP), CX
	MOVQ win_base+24(FP), DI
	XORPS X4, X4
	XORPS X5, X5
	XORPS X6, X6
	XORPS X7, X7
	SHRQ $2, CX          // groups of 4 taps
	JZ   done
loop8:
	CMPQ CX, $2
	JB   tail4
	MOVUPS (SI), X0
	MOVUPS 16(SI), X8
	MOVAPS X0, X1
	MOVAPS X8, X9
	UNPCKLPS X0, X0
	UNPCKHPS X1, X1
	UNPCKLPS X8, X8
	UNPCKHPS X9, X9
	MOVUPS (DI), X2
	MOVUPS 16(DI), X3
	MOVUPS 32(DI), X10
	MOVUPS 48(DI), X11
	MULPS X0, X2
	MULPS X1, X3
	MULPS X8, X10
	MULPS X9, X11
	ADDPS X2, X4
	ADDPS X3, X5
	ADDPS X10, X6
	ADDPS X11, X7
	ADDQ $32, SI
	ADDQ $64, DI
	SUBQ $2, CX
	JMP  loop8
tail4:
	TESTQ CX, CX
	JZ    done
	MOVUPS (SI), X0
	MOVAPS X0, X1
	UNPCKLPS X0, X0
	UNPCKHPS X1, X1
	MOVUPS (DI), X2
	MOVUPS 16(DI), X3
	MULPS X0, X2
	MULPS X1, X3
	ADDPS X2, X4
	ADDPS X3, X5
done:
	ADDPS X5, X4
	ADDPS X7, X6
	ADDPS X6, X4         // (La Ra Lb Rb)
	MOVHLPS X4, X0       // (Lb Rb . .)
	ADDPS X0, X4         // lane 0 = l, lane 1 = r
	MOVSS X4, l+48(FP)
	SHUFPS $0x55, X4, X4
	MOVSS X4, r+52(FP)
	RET

// func dotMono4(c, win []float32) float32
TEXT ·dotMono4(SB), NOSPLIT, $0-52
	MOVQ c_base+0(FP), SI
	MOVQ c_len+8(FP), CX
	MOVQ win_base+24(FP), DI
	XORPS X4, X4
	XORPS X5, X5
	SHRQ $2, CX
	JZ   mdone
mloop8:
	CMPQ CX, $2
	JB   mtail4
	MOVUPS (SI), X0
	MOVUPS 16(SI), X1
	MOVUPS (DI), X2
	MOVUPS 16(DI), X3
	MULPS X0, X2
	MULPS X1, X3
	ADDPS X2, X4
	ADDPS X3, X5
	ADDQ $32, SI
	ADDQ $32, DI
	SUBQ $2, CX
	JMP  mloop8
mtail4:
	TESTQ CX, CX
	JZ    mdone
	MOVUPS (SI), X0
	MOVUPS (DI), X2
	MULPS X0, X2
	ADDPS X2, X4
mdone:
	ADDPS X5, X4
	MOVHLPS X4, X0
	ADDPS X0, X4
	MOVAPS X4, X0
	SHUFPS $0x55, X0, X0
	ADDSS X0, X4
	MOVSS X4, ret+48(FP)
	RET
