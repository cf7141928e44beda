using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Domino.Config.Output;

/// <summary>
/// Writes a JSON tree exactly as libxl's yajl generator pretty-prints it (`xl -N create`): four-space
/// indents, <c>"key": value</c>, and empty objects/arrays as an opening brace, a blank line, and the closer.
/// </summary>
internal static class YajlJsonWriter
{
    public static string Write(JsonNode node)
    {
        var sb = new StringBuilder();
        WriteNode(sb, node, 0);
        sb.Append('\n');
        return sb.ToString();
    }

    private static void WriteNode(StringBuilder sb, JsonNode? node, int depth)
    {
        switch (node)
        {
            case JsonObject obj:
                sb.Append("{\n");
                if (obj.Count == 0) sb.Append('\n');
                var i = 0;
                foreach (var (key, value) in obj)
                {
                    Indent(sb, depth + 1);
                    WriteString(sb, key);
                    sb.Append(": ");
                    WriteNode(sb, value, depth + 1);
                    sb.Append(++i < obj.Count ? ",\n" : "\n");
                }
                Indent(sb, depth);
                sb.Append('}');
                break;
            case JsonArray array:
                sb.Append("[\n");
                if (array.Count == 0) sb.Append('\n');
                for (var j = 0; j < array.Count; j++)
                {
                    Indent(sb, depth + 1);
                    WriteNode(sb, array[j], depth + 1);
                    sb.Append(j + 1 < array.Count ? ",\n" : "\n");
                }
                Indent(sb, depth);
                sb.Append(']');
                break;
            // By kind rather than TryGetValue<T>: that is a generic virtual method, which the
            // ahead-of-time CLI resolves at run time, slowly, for each of its instantiations.
            case JsonValue value:
                switch (value.GetValueKind())
                {
                    case JsonValueKind.String: WriteString(sb, value.ToString()); break;
                    case JsonValueKind.True: sb.Append("true"); break;
                    case JsonValueKind.False: sb.Append("false"); break;
                    default: sb.Append(value.ToJsonString()); break;
                }
                break;
            case null:
                sb.Append("null");
                break;
            default:
                sb.Append(node.ToJsonString());
                break;
        }
    }

    private static void Indent(StringBuilder sb, int depth) => sb.Append(' ', depth * 4);

    // yajl escapes quote, backslash and control characters; '/' and non-ASCII are written as they are.
    private static void WriteString(StringBuilder sb, string s)
    {
        sb.Append('"');
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                default:
                    if (c < 0x20) sb.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:x4}");
                    else sb.Append(c);
                    break;
            }
        }
        sb.Append('"');
    }
}
