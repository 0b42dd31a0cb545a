using System.Text.Json.Nodes;
using Tenzro.Node.Core.Json;

namespace Tenzro.Node.Api;

/// <summary>
/// Reads a JSON request body strictly (<see cref="StrictJson"/>), so that no malformed body of any kind gets
/// past the endpoint to fail later as a 500: it is a 400 problem+json that says what is wrong.
/// </summary>
internal static class JsonBody
{
    /// <summary>
    /// The body as one JSON value, or the 400 to answer. A body over MAX_REQUEST_SIZE throws Kestrel's
    /// <see cref="BadHttpRequestException"/> (413), which <see cref="HttpSetup"/> answers.
    /// </summary>
    /// <param name="context">The request.</param>
    /// <param name="example">A short valid body, shown in the error.</param>
    public static async Task<(JsonNode? Node, IResult? Problem)> ReadAsync(HttpContext context, string example)
    {
        using var buffer = new MemoryStream();
        await context.Request.Body.CopyToAsync(buffer, context.RequestAborted);
        return StrictJson.TryParse(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), out var node, out var error)
            ? (node, null)
            : (null, HttpSetup.Problem(400, "Malformed JSON", $"The body is not usable JSON: {error}. Send e.g. {example}."));
    }
}
