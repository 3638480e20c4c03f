using System.Collections.Concurrent;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;

namespace Mirror.IntegrationTests.Infrastructure;

/// <summary>What goes into one image layer.</summary>
public abstract record LayerSpec
{
    /// <summary>A layer holding one file of <paramref name="size"/> pseudo-random bytes that depend only on <paramref name="seed"/>.</summary>
    public static LayerSpec Random(long size, int seed) => new RandomLayer(size, seed);

    /// <summary>A busybox root filesystem (bin/busybox, bin/sh, bin/echo, bin/cat, ...) so that <c>docker run IMAGE echo hello</c> works.</summary>
    public static LayerSpec Runnable() => new BusyboxLayer();

    /// <summary>Name of the cached layer file: the same spec always maps to the same file.</summary>
    internal abstract string CacheKey { get; }

    /// <summary>Writes the layer's uncompressed tar entries.</summary>
    internal abstract void WriteEntries(TarWriter tar);
}

/// <summary>One file <c>data/random-SEED-SIZE.bin</c> of <paramref name="Size"/> pseudo-random bytes from <paramref name="Seed"/>.</summary>
public sealed record RandomLayer(long Size, int Seed) : LayerSpec
{
    internal override string CacheKey => $"random-{Seed}-{Size}";

    internal override void WriteEntries(TarWriter tar)
    {
        tar.WriteEntry(LayerFactory.Directory("data/"));
        using var content = new RandomContentStream(Size, Seed);
        tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"data/random-{Seed}-{Size}.bin")
        {
            DataStream = content,
            Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead,
            ModificationTime = LayerFactory.Epoch,
        });
    }
}

/// <summary>A busybox root filesystem from Debian's busybox-static (/bin/busybox).</summary>
public sealed record BusyboxLayer : LayerSpec
{
    /// <summary>Where busybox-static installs the binary.</summary>
    public const string BusyboxPath = "/bin/busybox";

    /// <summary>Applets linked into bin/.</summary>
    public static readonly IReadOnlyList<string> Applets = ["sh", "echo", "cat", "ls", "true", "false", "sleep", "env"];

    internal override string CacheKey
    {
        get
        {
            var info = new FileInfo(BusyboxPath);
            if (!info.Exists) throw new InvalidOperationException($"{BusyboxPath} is missing: apt-get install -y busybox-static");
            return $"busybox-{info.Length}-{info.LastWriteTimeUtc.Ticks}";
        }
    }

    internal override void WriteEntries(TarWriter tar)
    {
        const UnixFileMode executable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        tar.WriteEntry(LayerFactory.Directory("bin/"));
        using (var binary = File.OpenRead(BusyboxPath))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "bin/busybox") { DataStream = binary, Mode = executable, ModificationTime = LayerFactory.Epoch });
        }
        foreach (var applet in Applets)
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.SymbolicLink, "bin/" + applet) { LinkName = "busybox", Mode = executable, ModificationTime = LayerFactory.Epoch });
        }
        var sticky = UnixFileMode.StickyBit | executable | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite | UnixFileMode.UserWrite;
        tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "tmp/") { Mode = sticky, ModificationTime = LayerFactory.Epoch });
        tar.WriteEntry(LayerFactory.Directory("etc/"));
    }
}

/// <summary>A layer blob on disk: the gzip-compressed tar and its digests.</summary>
/// <param name="Path">The compressed layer file (shared cache: do not modify).</param>
/// <param name="Digest">sha256 of the compressed file: the layer's blob digest.</param>
/// <param name="Size">Size of the compressed file in bytes.</param>
/// <param name="DiffId">sha256 of the uncompressed tar: the image config's <c>rootfs.diff_ids</c> entry.</param>
public sealed record LayerFile(string Path, string Digest, long Size, string DiffId);

/// <summary>
/// Builds layer blobs as real tar + gzip files, streaming (never in memory), and caches them by spec under
/// <c>TempDir.Root/layer-cache</c> so that test classes share them across and within runs.
/// </summary>
public static class LayerFactory
{
    internal static readonly DateTimeOffset Epoch = DateTimeOffset.FromUnixTimeSeconds(946684800); // fixed mtime: same spec, same bytes
    private static readonly ConcurrentDictionary<string, Lazy<Task<LayerFile>>> InProcess = new();

    /// <summary>Directory of the layer cache.</summary>
    public static string CacheDirectory { get; } = Path.Combine(TempDir.Root, "layer-cache");

    /// <summary>The layer file for <paramref name="spec"/>, built on first use.</summary>
    public static Task<LayerFile> GetAsync(LayerSpec spec)
    {
        var key = spec.CacheKey;
        return InProcess.GetOrAdd(key, _ => new Lazy<Task<LayerFile>>(() => Task.Run(() => LoadOrBuild(spec, key)))).Value;
    }

    internal static PaxTarEntry Directory(string name) => new(TarEntryType.Directory, name)
    {
        Mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead |
               UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute,
        ModificationTime = Epoch,
    };

    private static LayerFile LoadOrBuild(LayerSpec spec, string key)
    {
        System.IO.Directory.CreateDirectory(CacheDirectory);
        var blobPath = Path.Combine(CacheDirectory, key + ".tar.gz");
        var metaPath = Path.Combine(CacheDirectory, key + ".json");
        if (File.Exists(metaPath) && File.Exists(blobPath))
        {
            var cached = JsonSerializer.Deserialize<LayerFile>(File.ReadAllText(metaPath));
            if (cached is not null && new FileInfo(blobPath).Length == cached.Size) return cached with { Path = blobPath };
        }

        // Build into a private file, then rename: another test process may build the same key at the same time.
        var temp = Path.Combine(CacheDirectory, $"{key}.{Guid.NewGuid():N}.tmp");
        string digest, diffId;
        long size;
        using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        using (var compressed = new HashingWriteStream(file, leaveOpen: true))
        {
            using (var gzip = new GZipStream(compressed, spec is RandomLayer ? CompressionLevel.NoCompression : CompressionLevel.Fastest, leaveOpen: true))
            using (var uncompressed = new HashingWriteStream(gzip, leaveOpen: true))
            {
                using (var tar = new TarWriter(uncompressed, TarEntryFormat.Pax, leaveOpen: true)) spec.WriteEntries(tar);
                diffId = uncompressed.Digest();
            }
            digest = compressed.Digest();
            size = compressed.BytesWritten;
        }
        var layer = new LayerFile(blobPath, digest, size, diffId);
        File.Move(temp, blobPath, overwrite: true);
        var metaTemp = metaPath + $".{Guid.NewGuid():N}.tmp";
        File.WriteAllText(metaTemp, JsonSerializer.Serialize(layer));
        File.Move(metaTemp, metaPath, overwrite: true);
        return layer;
    }
}
