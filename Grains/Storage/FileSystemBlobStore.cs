namespace Mirror.Grains.Storage;

/// <summary>
/// Blobs as files under <c>{root}/blobs/{algorithm}/{first two hex}/{hex}</c>. A write goes to a temp file in
/// <c>{root}/tmp</c> on the same filesystem and is committed by flush-to-disk and an atomic rename.
/// </summary>
public sealed class FileSystemBlobStore : IBlobStore
{
    private readonly string _blobs;
    private readonly string _tmp;

    /// <summary>Creates the store under <paramref name="root"/>; leftover temp files of a previous run are removed.</summary>
    public FileSystemBlobStore(string root)
    {
        _blobs = Path.Combine(root, "blobs");
        _tmp = Path.Combine(root, "tmp");
        Directory.CreateDirectory(_blobs);
        Directory.CreateDirectory(_tmp);
        foreach (var stale in Directory.EnumerateFiles(_tmp))
        {
            try { File.Delete(stale); } catch (IOException) { }
        }
    }

    /// <summary>Where a committed blob's file lives (digest text is validated, so no path can escape the root).</summary>
    public string PathOf(Digest digest) => Path.Combine(_blobs, digest.Algorithm, digest.Hex[..2], digest.Hex);

    /// <inheritdoc />
    public Task<StoredBlob?> OpenReadOrNullAsync(Digest digest, long offset, CancellationToken cancellationToken)
    {
        var path = PathOf(digest);
        FileStream stream;
        try
        {
            stream = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open, Access = FileAccess.Read, Share = FileShare.Read | FileShare.Delete,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan, BufferSize = 0,
            });
        }
        catch (FileNotFoundException) { return Task.FromResult<StoredBlob?>(null); }
        catch (DirectoryNotFoundException) { return Task.FromResult<StoredBlob?>(null); }
        var length = stream.Length;
        stream.Position = Math.Min(offset, length);
        TouchAccessTime(path);
        return Task.FromResult<StoredBlob?>(new StoredBlob(length, stream, path));
    }

    /// <inheritdoc />
    public Task<long?> GetSizeOrNullAsync(Digest digest, CancellationToken cancellationToken)
    {
        var info = new FileInfo(PathOf(digest));
        return Task.FromResult(info.Exists ? info.Length : (long?)null);
    }

    /// <inheritdoc />
    public Task<IBlobWriter> BeginWriteAsync(Digest digest, long expectedLength, CancellationToken cancellationToken)
    {
        var temp = Path.Combine(_tmp, $"{digest.Hex}.{Guid.NewGuid():N}");
        return Task.FromResult<IBlobWriter>(new Writer(this, digest, temp));
    }

    /// <inheritdoc />
    public Task<Uri?> GetDownloadUrlOrNullAsync(Digest digest, TimeSpan lifetime, CancellationToken cancellationToken) =>
        Task.FromResult<Uri?>(null);

    /// <inheritdoc />
    public Task<bool> DeleteAsync(Digest digest, CancellationToken cancellationToken)
    {
        var path = PathOf(digest);
        if (!File.Exists(path)) return Task.FromResult(false);
        File.Delete(path);
        return Task.FromResult(true);
    }

    /// <summary>Last access, for eviction by size and age; the mount's atime is not relied upon.</summary>
    private static void TouchAccessTime(string path)
    {
        try { File.SetLastAccessTimeUtc(path, DateTime.UtcNow); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    private sealed class Writer(FileSystemBlobStore store, Digest digest, string temp) : IBlobWriter
    {
        private bool _committed;

        public string? AdoptableSpoolPath => temp;

        public ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
            throw new NotSupportedException("the filesystem store adopts the spool file");

        public Task CommitAsync(long verifiedLength, CancellationToken cancellationToken)
        {
            var info = new FileInfo(temp);
            if (!info.Exists || info.Length != verifiedLength)
                throw new IOException($"spool for {digest} is {(info.Exists ? info.Length : -1)} bytes, expected {verifiedLength}");
            // Flush to disk before the rename, so that a crash can never leave a committed name over unwritten data.
            using (var handle = File.OpenHandle(temp, FileMode.Open, FileAccess.ReadWrite))
            {
                RandomAccess.FlushToDisk(handle);
            }
            var target = store.PathOf(digest);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Move(temp, target, overwrite: true);
            _committed = true;
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            if (!_committed)
            {
                try { File.Delete(temp); } catch (IOException) { }
            }
            return ValueTask.CompletedTask;
        }
    }
}
