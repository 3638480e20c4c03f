namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>Finds host programs and cleans up what daemons leave behind.</summary>
internal static class HostTools
{
    private static readonly string[] ExtraDirs = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

    /// <summary>The absolute path of <paramref name="name"/> on PATH (or the sbin directories root's PATH may lack).</summary>
    public static string Find(string name)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var dir in path.Split(':', StringSplitOptions.RemoveEmptyEntries).Concat(ExtraDirs))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"'{name}' is not installed; run scripts/install-deps.sh");
    }

    /// <summary>
    /// Lazily unmounts every mount point at or below <paramref name="root"/>, deepest first.
    /// dockerd bind-mounts its data root onto itself and containerd mounts snapshots; a daemon killed
    /// before it cleans up leaves them, and a mount point cannot be deleted.
    /// </summary>
    public static async Task UnmountBelowAsync(string root)
    {
        var prefix = Path.GetFullPath(root).TrimEnd('/');
        var mountPoints = File.ReadAllLines("/proc/self/mountinfo")
            .Select(line => line.Split(' ')[4].Replace("\\040", " "))
            .Where(p => p == prefix || p.StartsWith(prefix + "/", StringComparison.Ordinal))
            .Distinct()
            .OrderByDescending(p => p.Length);
        foreach (var mountPoint in mountPoints)
        {
            await ChildProcess.RunAsync(Find("umount"), ["-l", mountPoint], TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>Asks a daemon to stop with SIGTERM and waits for it; kills it (and its process tree) if it does not.</summary>
    public static async Task StopGracefullyAsync(ChildProcess process, TimeSpan timeout)
    {
        if (!process.HasExited)
        {
            process.Signal(15);
            try { await process.WaitForExitAsync(timeout); }
            catch (OperationCanceledException) { /* DisposeAsync kills it */ }
        }
        await process.DisposeAsync();
    }
}
