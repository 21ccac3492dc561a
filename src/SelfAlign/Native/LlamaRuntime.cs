using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace SelfAlign.Native;

/// <summary>
/// Process-wide llama.cpp state: loads the libraries once, initialises the backends and routes
/// llama.cpp's log lines to <see cref="Logger"/> (quiet unless a logger is set).
/// </summary>
public static unsafe class LlamaRuntime
{
    private static readonly Lock InitLock = new();
    private static string? _libraryDirectory;
    private static readonly StringBuilder PendingLine = new();

    /// <summary>Receives llama.cpp's and ggml's log output. Defaults to discarding it.</summary>
    public static ILogger Logger { get; set; } = NullLogger.Instance;

    /// <summary>The directory the native libraries were loaded from, once initialised.</summary>
    public static string? LibraryDirectory => _libraryDirectory;

    /// <summary>Loads the native libraries if not yet done. Safe to call from any thread.</summary>
    /// <exception cref="NativeLibraryException">the libraries are missing or cannot be loaded.</exception>
    public static void EnsureInitialized(NativeRuntimeOptions? options = null)
    {
        if (_libraryDirectory != null) return;
        lock (InitLock)
        {
            if (_libraryDirectory != null) return;
            var dir = NativeLibraryLoader.Load(options ?? new NativeRuntimeOptions());
            LlamaNative.llama_log_set(&OnLog, 0);
            LlamaNative.ggml_log_set(&OnLog, 0);
            var dirBytes = Utf8.NullTerminated(dir);
            fixed (byte* p = dirBytes) LlamaNative.ggml_backend_load_all_from_path(p);
            LlamaNative.llama_backend_init();
            _libraryDirectory = dir;
        }
    }

    /// <summary>llama.cpp's description of the CPU features it uses (AVX512, ...).</summary>
    public static string SystemInfo
    {
        get { EnsureInitialized(); return Marshal.PtrToStringUTF8(LlamaNative.llama_print_system_info()) ?? ""; }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void OnLog(int level, byte* text, nint userData)
    {
        var chunk = Marshal.PtrToStringUTF8((nint)text) ?? "";
        // llama.cpp logs partial lines (level CONT); join them so each log record is one line.
        lock (PendingLine)
        {
            PendingLine.Append(chunk);
            if (!chunk.EndsWith('\n')) return;
            var line = PendingLine.ToString().TrimEnd('\n');
            PendingLine.Clear();
            var logLevel = level switch { 4 => LogLevel.Error, 3 => LogLevel.Warning, 2 => LogLevel.Information, _ => LogLevel.Debug };
            if (Logger.IsEnabled(logLevel)) Logger.Log(logLevel, "{Line}", line);
        }
    }
}
