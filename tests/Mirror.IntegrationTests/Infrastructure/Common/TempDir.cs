namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>A fresh directory under the test run's root, deleted on dispose unless MIRROR_KEEP_TEST_DIRS is set.</summary>
public sealed class TempDir : IDisposable
{
    /// <summary>Root of every test directory in this run (MIRROR_TEST_ROOT, else /tmp/mirror-tests).</summary>
    public static string Root { get; } = Environment.GetEnvironmentVariable("MIRROR_TEST_ROOT") is { Length: > 0 } r
        ? r
        : System.IO.Path.Combine(System.IO.Path.GetTempPath(), "mirror-tests");

    /// <summary>Creates a new directory whose name starts with <paramref name="prefix"/>.</summary>
    public TempDir(string prefix)
    {
        Directory.CreateDirectory(Root);
        Path = System.IO.Path.Combine(Root, $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)]);
        Directory.CreateDirectory(Path);
    }

    /// <summary>The directory's absolute path.</summary>
    public string Path { get; }

    /// <summary>A path inside the directory.</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <inheritdoc />
    public void Dispose()
    {
        if (Environment.GetEnvironmentVariable("MIRROR_KEEP_TEST_DIRS") is { Length: > 0 }) return;
        try { Directory.Delete(Path, recursive: true); }
        catch (IOException) { /* a child process may still hold a file; the run's root is wiped by .ci/run anyway */ }
        catch (UnauthorizedAccessException) { }
    }
}
