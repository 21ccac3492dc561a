using System.Runtime.InteropServices;

namespace SelfAlign.Native;

/// <summary>
/// Owns a ggml CPU thread pool. Without one, llama.cpp's CPU backend makes a pool per graph whose workers spin
/// while they wait at each barrier (polling level 50); with polling 0 they sleep instead, which matters when another
/// process holds a core: a spinning worker then burns the time slice its partner needs. The pool's functions live in
/// the CPU backend variant loaded at run time, so they are found through the backend registry.
/// </summary>
internal sealed unsafe class SafeThreadpoolHandle : SafeHandle
{
    private static delegate* unmanaged[Cdecl]<ggml_threadpool_params*, nint> _new;
    private static delegate* unmanaged[Cdecl]<nint, void> _free;

    private SafeThreadpoolHandle(nint handle) : base(0, ownsHandle: true) => SetHandle(handle);

    public override bool IsInvalid => handle == 0;

    /// <summary>A pool of <paramref name="threads"/> workers; <paramref name="poll"/> 0 makes idle workers sleep, 100 spin (llama.cpp uses 50).</summary>
    public static SafeThreadpoolHandle Create(int threads, uint poll)
    {
        Resolve();
        var p = new ggml_threadpool_params();
        LlamaNative.ggml_threadpool_params_init(&p, threads);
        p.poll = poll;
        var h = _new(&p);
        if (h == 0) throw new NativeLibraryException($"ggml could not start a pool of {threads} threads");
        return new SafeThreadpoolHandle(h);
    }

    private static void Resolve()
    {
        if (_new != null) return;
        nint reg;
        fixed (byte* cpu = "CPU\0"u8) reg = LlamaNative.ggml_backend_reg_by_name(cpu);
        if (reg == 0) throw new NativeLibraryException("ggml has no CPU backend loaded");
        fixed (byte* n = "ggml_threadpool_free\0"u8) _free = (delegate* unmanaged[Cdecl]<nint, void>)LlamaNative.ggml_backend_reg_get_proc_address(reg, n);
        fixed (byte* n = "ggml_threadpool_new\0"u8) _new = (delegate* unmanaged[Cdecl]<ggml_threadpool_params*, nint>)LlamaNative.ggml_backend_reg_get_proc_address(reg, n);
        if (_new == null || _free == null) throw new NativeLibraryException("the CPU backend does not export ggml_threadpool_new");
    }

    protected override bool ReleaseHandle()
    {
        _free(handle);
        return true;
    }
}

/// <summary>ggml.h's struct ggml_threadpool_params (528 bytes: a 512-entry CPU mask, then the settings).</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct ggml_threadpool_params
{
    public fixed byte cpumask[512];
    public int n_threads;
    public int prio;
    public uint poll;
    public byte strict_cpu;
    public byte paused;
}
