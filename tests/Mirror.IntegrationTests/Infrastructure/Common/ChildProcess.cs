using System.Diagnostics;
using System.Text;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>
/// A real OS process started by a test: stdout and stderr go to a log file (and are kept in memory for assertions),
/// it is killed with its whole process group on dispose, and readiness is awaited by polling a condition.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly StreamWriter _log;
    private readonly object _gate = new();
    private readonly List<(Func<string, bool> Match, TaskCompletionSource Signal)> _waiters = [];

    private ChildProcess(Process process, string logPath)
    {
        _process = process;
        LogPath = logPath;
        _log = new StreamWriter(new FileStream(logPath, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
    }

    /// <summary>Where the process's output is written.</summary>
    public string LogPath { get; }

    /// <summary>The OS process id.</summary>
    public int Pid => _process.Id;

    /// <summary>True once the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>Everything the process has printed so far.</summary>
    public string Output { get { lock (_gate) return _output.ToString(); } }

    /// <summary>Starts <paramref name="fileName"/> with <paramref name="args"/>; output goes to <paramref name="logPath"/>.</summary>
    public static ChildProcess Start(string fileName, IEnumerable<string> args, string logPath,
        string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                if (v is null) info.Environment.Remove(k);
                else info.Environment[k] = v;
            }
        }
        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logPath))!);
        var child = new ChildProcess(process, logPath);
        process.OutputDataReceived += (_, e) => child.OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => child.OnLine(e.Data);
        if (!process.Start()) throw new InvalidOperationException($"could not start {fileName}");
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    private void OnLine(string? line)
    {
        if (line is null) return;
        List<TaskCompletionSource> fire = [];
        lock (_gate)
        {
            _output.AppendLine(line);
            try { _log.WriteLine(line); } catch (ObjectDisposedException) { }
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Match(line)) { fire.Add(_waiters[i].Signal); _waiters.RemoveAt(i); }
            }
        }
        foreach (var f in fire) f.TrySetResult();
    }

    /// <summary>Completes when a line of output satisfies <paramref name="match"/> (including lines already printed).</summary>
    public Task WaitForOutputAsync(Func<string, bool> match, TimeSpan timeout)
    {
        var tcs = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            foreach (var line in _output.ToString().Split('\n'))
            {
                if (match(line.TrimEnd('\r'))) return Task.CompletedTask;
            }
            _waiters.Add((match, tcs));
        }
        return WithExitAndTimeout(tcs.Task, timeout, "output");
    }

    /// <summary>Polls <paramref name="condition"/> until it returns true, the process exits, or the deadline passes.</summary>
    public async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            if (_process.HasExited) throw new InvalidOperationException($"{what}: process exited with {_process.ExitCode} before it was ready. Output:\n{Tail()}");
            try { if (await condition()) return; } catch (Exception) when (DateTime.UtcNow < deadline) { }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: not ready after {timeout}. Output:\n{Tail()}");
            await Task.Delay(50); // polling interval of a condition with a deadline, not synchronisation
        }
    }

    /// <summary>Polls an HTTP URL until it answers with any status below 500.</summary>
    public async Task WaitForHttpAsync(Uri url, TimeSpan timeout)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        await WaitUntilAsync(async () =>
        {
            using var response = await client.GetAsync(url);
            return (int)response.StatusCode < 500;
        }, timeout, url.ToString());
    }

    private async Task WithExitAndTimeout(Task task, TimeSpan timeout, string what)
    {
        var exited = _process.WaitForExitAsync();
        var done = await Task.WhenAny(task, exited, Task.Delay(timeout));
        if (done == task) return;
        if (done == exited) throw new InvalidOperationException($"process exited ({_process.ExitCode}) while waiting for {what}:\n{Tail()}");
        throw new TimeoutException($"waiting for {what} timed out after {timeout}:\n{Tail()}");
    }

    /// <summary>The last lines of output, for failure messages.</summary>
    public string Tail(int lines = 60)
    {
        var all = Output.Split('\n');
        return string.Join('\n', all.Skip(Math.Max(0, all.Length - lines)));
    }

    /// <summary>Sends a POSIX signal (e.g. 15 for SIGTERM, 9 for SIGKILL) to the process.</summary>
    public void Signal(int signal)
    {
        if (_process.HasExited) return;
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", _process.Id.ToString()]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    /// <summary>Waits for the process to exit; returns its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return _process.ExitCode;
    }

    /// <summary>Runs a command to completion and returns its exit code and combined output.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string fileName, IEnumerable<string> args, TimeSpan timeout,
        string? workingDirectory = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var log = Path.Combine(TempDir.Root, "run-logs", $"{Path.GetFileName(fileName)}-{Guid.NewGuid():N}.log");
        await using var child = Start(fileName, args, log, workingDirectory, environment);
        using var cts = new CancellationTokenSource(timeout);
        try { await child._process.WaitForExitAsync(cts.Token); }
        catch (OperationCanceledException) { throw new TimeoutException($"{fileName} {string.Join(' ', args)} timed out after {timeout}:\n{child.Tail()}"); }
        child._process.WaitForExit(); // drains the asynchronous output readers
        return (child._process.ExitCode, child.Output);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                try { await _process.WaitForExitAsync(cts.Token); } catch (OperationCanceledException) { }
            }
        }
        catch (InvalidOperationException) { }
        lock (_gate) _log.Dispose();
        _process.Dispose();
    }
}
