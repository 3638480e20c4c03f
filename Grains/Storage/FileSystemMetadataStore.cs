using System.Text;
using System.Text.Json;

namespace Mirror.Grains.Storage;

/// <summary>
/// Manifests and tags as small files: <c>{root}/manifests/{alg}/{hex}</c> holds the media type on its first line
/// and then the exact bytes; <c>{root}/tags/{registry}/{repository}/{tag}.json</c> holds a <see cref="TagRecord"/>.
/// Every write goes through a temp file and an atomic rename.
/// </summary>
public sealed class FileSystemMetadataStore(string root) : IMetadataStore
{
    private readonly string _manifests = Path.Combine(root, "manifests");
    private readonly string _tags = Path.Combine(root, "tags");
    private readonly string _tmp = Path.Combine(root, "tmp");

    /// <inheritdoc />
    public async Task<ManifestContent?> GetManifestOrNullAsync(Digest digest, CancellationToken cancellationToken)
    {
        byte[] bytes;
        try { bytes = await File.ReadAllBytesAsync(ManifestPath(digest), cancellationToken); }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
        var newline = Array.IndexOf(bytes, (byte)'\n');
        if (newline <= 0) return null;
        var mediaType = Encoding.UTF8.GetString(bytes, 0, newline);
        var body = bytes.AsMemory(newline + 1);
        return new ManifestContent(digest, mediaType, body);
    }

    /// <inheritdoc />
    public async Task PutManifestAsync(ManifestContent manifest, CancellationToken cancellationToken)
    {
        var path = ManifestPath(manifest.Digest);
        if (File.Exists(path)) return;
        var header = Encoding.UTF8.GetBytes(manifest.MediaType + "\n");
        var content = new byte[header.Length + manifest.Bytes.Length];
        header.CopyTo(content, 0);
        manifest.Bytes.Span.CopyTo(content.AsSpan(header.Length));
        await WriteAtomicAsync(path, content, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<TagRecord?> GetTagOrNullAsync(RepositoryRef repository, string tag, CancellationToken cancellationToken)
    {
        try
        {
            await using var stream = File.OpenRead(TagPath(repository, tag));
            var dto = await JsonSerializer.DeserializeAsync<TagDto>(stream, cancellationToken: cancellationToken);
            if (dto is null || !Digest.TryParse(dto.Digest, out var d)) return null;
            return new TagRecord(d.Value, dto.MediaType, dto.ValidatedAt);
        }
        catch (FileNotFoundException) { return null; }
        catch (DirectoryNotFoundException) { return null; }
        catch (JsonException) { return null; }
    }

    /// <inheritdoc />
    public Task PutTagAsync(RepositoryRef repository, string tag, TagRecord record, CancellationToken cancellationToken) =>
        WriteAtomicAsync(TagPath(repository, tag),
            JsonSerializer.SerializeToUtf8Bytes(new TagDto(record.Digest.ToString(), record.MediaType, record.ValidatedAt)), cancellationToken);

    /// <inheritdoc />
    public Task DeleteTagAsync(RepositoryRef repository, string tag, CancellationToken cancellationToken)
    {
        try { File.Delete(TagPath(repository, tag)); } catch (DirectoryNotFoundException) { }
        return Task.CompletedTask;
    }

    private string ManifestPath(Digest d) => Path.Combine(_manifests, d.Algorithm, d.Hex);

    // Registry, repository and tag are validated against the spec's grammar before they get here: no "..", no NUL.
    private string TagPath(RepositoryRef r, string tag) => Path.Combine(_tags, r.Registry, r.Repository, tag + ".json");

    private async Task WriteAtomicAsync(string path, byte[] content, CancellationToken ct)
    {
        Directory.CreateDirectory(_tmp);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var temp = Path.Combine(_tmp, Guid.NewGuid().ToString("N"));
        await File.WriteAllBytesAsync(temp, content, ct);
        File.Move(temp, path, overwrite: true);
    }

    private sealed record TagDto(string Digest, string MediaType, DateTimeOffset ValidatedAt);
}
