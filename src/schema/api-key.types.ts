import { Field, ID, InputType, ObjectType } from 'type-graphql';
import { ConnectionType } from './connection';
import { ApiKeyRole } from './enums';
import { RecordNode } from './base.types';

@ObjectType('ApiKey', {
  description: 'An API key (its secret is shown only once, when it is created).',
})
export class ApiKeyNode extends RecordNode {
  @Field()
  name: string;

  @Field(() => ApiKeyRole)
  role: ApiKeyRole;

  @Field(() => [ID], {
    nullable: true,
    description: 'Datasets the key is limited to; null for all.',
  })
  datasetIds: string[] | null;

  @Field({ description: "The key's first characters, to tell keys apart." })
  prefix: string;

  @Field(() => Date, { nullable: true })
  revokedAt: Date | null;
}

@ObjectType()
export class CreatedApiKey {
  @Field(() => ApiKeyNode)
  apiKey: ApiKeyNode;

  @Field({ description: 'The key itself. Shown this once: store it now.' })
  secret: string;
}

@InputType()
export class CreateApiKeyInput {
  @Field()
  name: string;

  @Field(() => ApiKeyRole)
  role: ApiKeyRole;

  @Field(() => [ID], {
    nullable: true,
    description: 'Limit the key to these datasets; omit for all.',
  })
  datasetIds?: string[] | null;
}

@ObjectType({ description: 'A page of API keys, oldest first.' })
export class ApiKeyConnection extends ConnectionType(ApiKeyNode, 'ApiKey') {}
