using System.Globalization;

namespace SelfAlign.Training;

/// <summary>
/// How many cores other processes are using, from /proc/stat (the machine's CPU time) less /proc/self/stat (this
/// process's) over a short interval. ggml's workers wait for each other at every barrier, so one whose core another
/// process takes stalls all of them: with both cores of a 2-core machine busy elsewhere, a small training ran 16×
/// slower on 2 threads than alone, and 1.3× slower on 1 thread; so training uses the cores left free when it starts.
/// </summary>
internal static class CpuContention
{
    /// <summary><paramref name="maxThreads"/> less the cores other processes kept busy during <paramref name="interval"/>, at least 1.</summary>
    public static int FreeThreads(int maxThreads, TimeSpan interval)
    {
        var before = Read();
        Thread.Sleep(interval);
        var after = Read();
        if (before is not { } b || after is not { } a || a.Total <= b.Total) return maxThreads; // not Linux, or /proc unreadable
        var others = (double)(a.Total - b.Total - (a.Idle - b.Idle) - (a.Own - b.Own)) / (a.Total - b.Total) * Environment.ProcessorCount;
        return Math.Clamp((int)Math.Round(Environment.ProcessorCount - others), 1, maxThreads);
    }

    private static (long Total, long Idle, long Own)? Read()
    {
        try
        {
            var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1).Take(8)
                .Select(x => long.Parse(x, CultureInfo.InvariantCulture)).ToArray();
            // utime and stime are the 14th and 15th fields, counted after the parenthesised command name
            var self = File.ReadAllText("/proc/self/stat");
            var fields = self[(self.LastIndexOf(')') + 2)..].Split(' ');
            var own = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
            return (cpu.Sum(), cpu[3] + cpu[4], own);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException or InvalidOperationException)
        {
            return null;
        }
    }
}
