namespace Mirror.Grains.Storage;

/// <summary>
/// Blobs as files under <c>{root}/blobs/{algorithm}/{first two hex}/{hex}</c>. A write adopts the fetch's spool file
/// (which lives under the same root, so on the same filesystem) and commits it by flush-to-disk and an atomic rename.
/// </summary>
public sealed class FileSystemBlobStore : IBlobStore
{
    private readonly string _blobs;

    /// <summary>Creates the store under <paramref name="root"/>.</summary>
    public FileSystemBlobStore(string root)
    {
        _blobs = Path.Combine(root, "blobs");
        Directory.CreateDirectory(_blobs);
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
                // Not Asynchronous: the copy loop reads a local file synchronously (see StreamCopy.FileBufferSize).
                Options = FileOptions.SequentialScan, BufferSize = 0,
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
    public Task<IBlobWriter> BeginWriteAsync(Digest digest, long expectedLength, string spoolPath, CancellationToken cancellationToken) =>
        Task.FromResult<IBlobWriter>(new Writer(this, digest, spoolPath));

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
        public ValueTask OnSpoolAdvancedAsync(long length, CancellationToken cancellationToken) => ValueTask.CompletedTask;

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
            return Task.CompletedTask;
        }

        // The spool belongs to the fetch, which deletes it if it is still there.
        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
