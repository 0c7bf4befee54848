import { Field, ID, ObjectType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';

// Base classes of the object types: each field that many types share, with the same meaning and
// description, is declared once here and inherited (type-graphql merges a superclass's fields
// into its subclass's). A base is an @ObjectType so that its fields can be inherited; no field
// returns one, so none appears in the schema. type-graphql 2 has no `isAbstract` option.

/** What every stored record the API shows has: its id and when it was created. */
@ObjectType('RecordNodeBase')
export abstract class RecordNode {
  @Field(() => ID)
  id: string;

  @Field()
  createdAt: Date;
}

/** A record that belongs to one dataset (an item, a label, a model, a round, a task...). */
@ObjectType('DatasetRecordNodeBase')
export abstract class DatasetRecordNode extends RecordNode {
  @Field(() => ID)
  datasetId: string;
}

/**
 * A job run as a task (training, simulation, auto-labelling): how it ended. Each kind declares its
 * own `status`, since the kinds describe their states differently.
 */
@ObjectType('TaskRunNodeBase')
export abstract class TaskRunNode extends DatasetRecordNode {
  @Field(() => String, { nullable: true })
  error: string | null;

  @Field(() => Date, { nullable: true })
  finishedAt: Date | null;
}

/** What describes a registered plugin (strategy, stream policy, synthesis method) to clients. */
export interface PluginShape {
  code: string;
  description: string;
  paramsSchema: Record<string, unknown>;
  defaults: Record<string, unknown>;
}

/**
 * Declares the abstract base of an object type describing a registered plugin kind: its `code`,
 * `description`, `paramsSchema` and `defaults`, with the two descriptions that differ per kind:
 * `@ObjectType('Strategy') class StrategyNode extends PluginType('Strategy', {...}) {}`.
 */
export function PluginType(name: string, describe: { code: string; defaults: string }) {
  @ObjectType(`${name}Base`)
  abstract class PluginNode implements PluginShape {
    @Field({ description: describe.code })
    code: string;

    @Field()
    description: string;

    @Field(() => GraphQLJSON, {
      description: 'JSON Schema of the parameters, with their defaults.',
    })
    paramsSchema: Record<string, unknown>;

    @Field(() => GraphQLJSON, { description: describe.defaults })
    defaults: Record<string, unknown>;
  }
  return PluginNode;
}
