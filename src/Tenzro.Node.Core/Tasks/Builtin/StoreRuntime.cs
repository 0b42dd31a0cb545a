using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;
using Tenzro.Node.Core.Storage;

namespace Tenzro.Node.Core.Tasks.Builtin;

/// <summary>
/// The <c>store</c> task: puts content into the blob store and returns <c>{"sha256","size"}</c>.
/// <c>data.content</c> is text, or base64 with <c>data.encoding: "base64"</c>; without <c>content</c>,
/// <c>data.input</c> (the regional form) is stored: a string as UTF-8 text, anything else as canonical JSON.
/// The blob is kept for <c>data.retention</c> seconds (default RESULT_RETENTION_PERIOD), and all blobs
/// together stay within the storage the node lends (MAX_STORAGE_GB).
/// </summary>
public sealed class StoreRuntime(BlobStore blobs, BlobRetention retention, Resources.IResourceLedger ledger, Configuration.TaskOptions options, TimeProvider time) : ITaskRuntime
{
    public IReadOnlyCollection<string> Types { get; } = ["store"];

    /// <summary>Managed code only: the attempt is stored with the first write, not before the run.</summary>
    public bool MayCrashTheProcess => false;

    public void Validate(TaskSpec task, ValidationErrors errors)
    {
        _ = Content(task, errors);
        _ = Retention(task, errors);
    }

    public async Task<JsonObject> ExecuteAsync(TaskExecutionContext context)
    {
        var errors = new ValidationErrors();
        var content = Content(context.Task, errors) ?? throw new TaskExecutionException(errors.ToString());
        var keepFor = Retention(context.Task, errors) ?? options.ResultRetentionPeriod;
        var hash = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(content));
        var lent = ledger.Allowed.StorageMB * 1024 * 1024;
        if (!blobs.Exists(hash) && blobs.TotalBytes() + content.Length > lent)
        {
            throw new TaskExecutionException(
                $"storage quota: storing {content.Length} bytes would take the blob store to {blobs.TotalBytes() + content.Length} bytes, above the {ledger.Allowed.StorageMB} MB this node lends (MAX_STORAGE_GB). Delete blobs or raise MAX_STORAGE_GB.");
        }

        var now = time.GetUtcNow();
        await retention.PutAndKeepAsync(content, "store", now, now + keepFor, context.CancellationToken);
        context.Progress.Report(1);
        return new JsonObject { ["sha256"] = hash, ["size"] = content.Length };
    }

    private static TimeSpan? Retention(TaskSpec task, ValidationErrors errors)
    {
        if (new Json.JsonFields(task.Data, "data", errors).OptionalDouble("retention", "must be a number of seconds.") is not { } seconds)
        {
            return null;
        }

        if (seconds <= 0 || seconds > 10L * 365 * 86400)
        {
            errors.Add("data.retention", $"must be from 1 second to 10 years; got {seconds}.");
            return null;
        }

        return TimeSpan.FromSeconds(seconds);
    }

    private static byte[]? Content(TaskSpec task, ValidationErrors errors)
    {
        var data = task.Data;
        var encoding = data["encoding"] is JsonValue e && e.TryGetValue<string>(out var enc) ? enc : "text";
        if (encoding is not ("text" or "base64" or "utf8" or "utf-8"))
        {
            errors.Add("data.encoding", $"'{encoding}' is not an encoding; expected text or base64.");
            return null;
        }

        if (data["content"] is { } content)
        {
            if (content.GetValueKind() != JsonValueKind.String)
            {
                errors.AddTypeError("data.content", "must be a string (text, or base64 with data.encoding \"base64\").");
                return null;
            }

            var text = content.GetValue<string>();
            if (encoding != "base64")
            {
                return Encoding.UTF8.GetBytes(text);
            }

            try
            {
                return Convert.FromBase64String(text);
            }
            catch (FormatException)
            {
                errors.Add("data.content", "is not valid base64.");
                return null;
            }
        }

        if (data["input"] is { } input)
        {
            return input.GetValueKind() == JsonValueKind.String
                ? Encoding.UTF8.GetBytes(input.GetValue<string>())
                : CanonicalJson.Serialize(input);
        }

        errors.Add("data.content", "is required: the text or base64 content to store.");
        return null;
    }
}
