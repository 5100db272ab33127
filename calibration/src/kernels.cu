// Memory-bound kernels of a training step, compiled at run time by NVRTC to a cubin for
// the device's sm_XX. No CUDA headers: NVRTC installs without them, so bf16/fp8 values
// are handled as raw bits.

typedef unsigned short bf16_t;
typedef unsigned long long u64;

__device__ __forceinline__ float bf2f(unsigned x) { return __uint_as_float(x << 16); }

// Round to nearest even; inputs are finite.
__device__ __forceinline__ unsigned f2bf(float f) {
    unsigned u = __float_as_uint(f);
    u += 0x7FFFu + ((u >> 16) & 1u);
    return u >> 16;
}

__device__ __forceinline__ unsigned hash32(unsigned x) {
    x ^= x >> 16; x *= 0x7feb352du;
    x ^= x >> 15; x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

// Random finite values of magnitude [0.125, 2) (fp8: [0.25, 4)) so GEMMs and norms see
// realistic bit patterns: no zeros, NaNs or denormals that could take fast paths.
// kind: 0 f32, 1 bf16, 2 f16, 3 fp8 e4m3, 4 positive f32.
__device__ __forceinline__ unsigned make16(unsigned r, int kind) {
    if (kind == 1) return (r & 0x8000u) | ((124u + ((r >> 7) & 3u)) << 7) | (r & 0x7Fu);
    return (r & 0x8000u) | ((13u + ((r >> 10) & 3u)) << 10) | (r & 0x3FFu);
}
__device__ __forceinline__ unsigned make8(unsigned r) {
    return (r & 0x80u) | ((5u + ((r >> 3) & 3u)) << 3) | (r & 7u);
}

extern "C" __global__ void fill_random(unsigned* p, u64 words, unsigned seed, int kind) {
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < words;
         i += (u64)gridDim.x * blockDim.x) {
        unsigned h = hash32((unsigned)i ^ hash32(seed ^ (unsigned)(i >> 32) * 0x9e3779b9u));
        unsigned g = hash32(h + 0x632be5abu);
        unsigned w;
        if (kind == 0 || kind == 4) {
            w = (h & 0x80000000u) | ((124u + (g & 3u)) << 23) | (h & 0x7FFFFFu);
            if (kind == 4) w &= 0x7FFFFFFFu;
        } else if (kind == 1 || kind == 2) {
            w = make16(h & 0xFFFFu, kind) | (make16(g & 0xFFFFu, kind) << 16);
        } else {
            w = make8(h) | (make8(h >> 8) << 8) | (make8(g) << 16) | (make8(g >> 8) << 24);
        }
        p[i] = w;
    }
}

extern "C" __global__ void copy_u4(const uint4* __restrict__ src, uint4* __restrict__ dst, u64 n) {
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        dst[i] = src[i];
}

extern "C" __global__ void fill_u4(uint4* __restrict__ dst, u64 n, unsigned v) {
    uint4 x = make_uint4(v, v, v, v);
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x)
        dst[i] = x;
}

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
    return v;
}

// Sum over the block, broadcast to every thread. Needs blockDim.x a multiple of 32.
__device__ float block_sum(float v) {
    __shared__ float part[32];
    __shared__ float total;
    v = warp_sum(v);
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    if (lane == 0) part[warp] = v;
    __syncthreads();
    if (warp == 0) {
        float x = lane < (int)(blockDim.x >> 5) ? part[lane] : 0.0f;
        x = warp_sum(x);
        if (lane == 0) total = x;
    }
    __syncthreads();
    float r = total;
    __syncthreads();
    return r;
}

extern "C" __global__ void sum_f4(const float4* __restrict__ src, u64 n, float* out) {
    float acc = 0.0f;
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n; i += (u64)gridDim.x * blockDim.x) {
        float4 v = src[i];
        acc += (v.x + v.y) + (v.z + v.w);
    }
    acc = block_sum(acc);
    if (threadIdx.x == 0) atomicAdd(out, acc);
}

__device__ __forceinline__ void unpack8(uint4 v, float* f) {
    unsigned w[4] = {v.x, v.y, v.z, v.w};
    for (int j = 0; j < 4; ++j) { f[2 * j] = bf2f(w[j] & 0xFFFFu); f[2 * j + 1] = bf2f(w[j] >> 16); }
}
__device__ __forceinline__ uint4 pack8(const float* f) {
    unsigned w[4];
    for (int j = 0; j < 4; ++j) w[j] = f2bf(f[2 * j]) | (f2bf(f[2 * j + 1]) << 16);
    return make_uint4(w[0], w[1], w[2], w[3]);
}

// One block per row of `h` bf16 values (h a multiple of 8); y = x / rms(x) * w.
extern "C" __global__ void rmsnorm_bf16(const uint4* __restrict__ x, const uint4* __restrict__ w,
                                        uint4* __restrict__ y, unsigned h, float eps) {
    unsigned h8 = h / 8;
    const uint4* xr = x + (u64)blockIdx.x * h8;
    uint4* yr = y + (u64)blockIdx.x * h8;
    float ss = 0.0f, f[8], g[8];
    for (unsigned i = threadIdx.x; i < h8; i += blockDim.x) {
        unpack8(xr[i], f);
        for (int j = 0; j < 8; ++j) ss += f[j] * f[j];
    }
    float r = rsqrtf(block_sum(ss) / h + eps);
    for (unsigned i = threadIdx.x; i < h8; i += blockDim.x) {
        unpack8(xr[i], f);
        unpack8(w[i], g);
        for (int j = 0; j < 8; ++j) f[j] = f[j] * r * g[j];
        yr[i] = pack8(f);
    }
}

// One block per row; y = (x - mean) / std * w + b.
extern "C" __global__ void layernorm_bf16(const uint4* __restrict__ x, const uint4* __restrict__ w,
                                          const uint4* __restrict__ b, uint4* __restrict__ y,
                                          unsigned h, float eps) {
    unsigned h8 = h / 8;
    const uint4* xr = x + (u64)blockIdx.x * h8;
    uint4* yr = y + (u64)blockIdx.x * h8;
    float s = 0.0f, ss = 0.0f, f[8], g[8], c[8];
    for (unsigned i = threadIdx.x; i < h8; i += blockDim.x) {
        unpack8(xr[i], f);
        for (int j = 0; j < 8; ++j) { s += f[j]; ss += f[j] * f[j]; }
    }
    float mean = block_sum(s) / h;
    float var = fmaxf(block_sum(ss) / h - mean * mean, 0.0f);
    float r = rsqrtf(var + eps);
    for (unsigned i = threadIdx.x; i < h8; i += blockDim.x) {
        unpack8(xr[i], f);
        unpack8(w[i], g);
        unpack8(b[i], c);
        for (int j = 0; j < 8; ++j) f[j] = (f[j] - mean) * r * g[j] + c[j];
        yr[i] = pack8(f);
    }
}

__device__ __forceinline__ float gelu_tanh(float x) {
    return 0.5f * x * (1.0f + tanhf(0.7978845608f * (x + 0.044715f * x * x * x)));
}

// n8 groups of 8 bf16.
extern "C" __global__ void gelu_bf16(const uint4* __restrict__ x, uint4* __restrict__ y, u64 n8) {
    float f[8];
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n8; i += (u64)gridDim.x * blockDim.x) {
        unpack8(x[i], f);
        for (int j = 0; j < 8; ++j) f[j] = gelu_tanh(f[j]);
        y[i] = pack8(f);
    }
}

// x is [rows, 2f] with the gate in the first half of each row (Megatron's fused fc1),
// y is [rows, f]: y = silu(gate) * up. f a multiple of 8.
extern "C" __global__ void swiglu_bf16(const uint4* __restrict__ x, uint4* __restrict__ y,
                                       u64 rows, unsigned f) {
    unsigned f8 = f / 8;
    u64 n8 = rows * f8;
    float a[8], b[8];
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n8; i += (u64)gridDim.x * blockDim.x) {
        u64 r = i / f8, c = i % f8;
        unpack8(x[r * 2 * f8 + c], a);
        unpack8(x[r * 2 * f8 + f8 + c], b);
        for (int j = 0; j < 8; ++j) a[j] = a[j] / (1.0f + __expf(-a[j])) * b[j];
        y[i] = pack8(a);
    }
}

// Fused AdamW step on FP32 master weights, FP32 gradients and moments, writing the BF16
// working copy: reads p, g, m, v (16 B), writes p, m, v (12 B) and the copy (2 B).
// n4 groups of 4 parameters. bc1, bc2: bias corrections 1 - beta^t.
extern "C" __global__ void adam_f32(float4* __restrict__ p, const float4* __restrict__ g,
                                    float4* __restrict__ m, float4* __restrict__ v,
                                    uint2* __restrict__ p16, u64 n4, float lr, float b1,
                                    float b2, float eps, float wd, float bc1, float bc2) {
    for (u64 i = blockIdx.x * (u64)blockDim.x + threadIdx.x; i < n4; i += (u64)gridDim.x * blockDim.x) {
        float4 P = p[i], G = g[i], M = m[i], V = v[i];
        float* pp = &P.x; const float* gg = &G.x; float* mm = &M.x; float* vv = &V.x;
        for (int j = 0; j < 4; ++j) {
            mm[j] = b1 * mm[j] + (1.0f - b1) * gg[j];
            vv[j] = b2 * vv[j] + (1.0f - b2) * gg[j] * gg[j];
            float upd = (mm[j] / bc1) / (sqrtf(vv[j] / bc2) + eps) + wd * pp[j];
            pp[j] -= lr * upd;
        }
        p[i] = P; m[i] = M; v[i] = V;
        p16[i] = make_uint2(f2bf(P.x) | (f2bf(P.y) << 16), f2bf(P.z) | (f2bf(P.w) << 16));
    }
}
