using YamlDotNet.Core;
using YamlDotNet.Core.Events;
using YamlDotNet.Serialization;

namespace SelfAlign.Data;

/// <summary>Reads enum values spelled as <see cref="EnumNames"/> spells them; a wrong one names the choices.</summary>
internal sealed class YamlEnumConverter : IYamlTypeConverter
{
    public bool Accepts(Type type) => type.IsEnum;

    public object ReadYaml(IParser parser, Type type, ObjectDeserializer rootDeserializer)
    {
        var scalar = parser.Consume<Scalar>();
        try { return EnumNames.Parse(type, scalar.Value, "value"); }
        catch (InvalidInputException e) { throw new YamlException(scalar.Start, scalar.End, e.Message); }
    }

    public void WriteYaml(IEmitter emitter, object? value, Type type, ObjectSerializer serializer) =>
        emitter.Emit(new Scalar(EnumNames.Policy.ConvertName(value?.ToString() ?? "")));
}
