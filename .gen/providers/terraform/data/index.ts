// Stand-in for `cdktf get` output of the built-in provider terraform.io/builtin/terraform (Terraform 1.11.4),
// emitted by the cdktf 0.21.0 provider generator from `terraform providers schema -json`. Used instead of
// cdktf's DataResource, which runs `terraform version` once per resource during every synth (~60 ms each).
// `cdktf get` 0.21 cannot generate the built-in provider (it fails on its provider block, which has no
// attributes); __tests__/real-providers/bindings.test.ts checks this binding against the engines' own schema.
// https://terraform.io/providers/builtin/terraform/latest/docs/resources/data
// generated from terraform resource schema

import { Construct } from 'constructs';
import * as cdktf from 'cdktf';

// Configuration

export interface DataConfig extends cdktf.TerraformMetaArguments {
  /**
  * Docs at Terraform Registry: {@link https://terraform.io/providers/builtin/terraform/latest/docs/resources/data#input Data#input}
  */
  readonly input?: { [key: string]: any };
  /**
  * Docs at Terraform Registry: {@link https://terraform.io/providers/builtin/terraform/latest/docs/resources/data#triggers_replace Data#triggers_replace}
  */
  readonly triggersReplace?: { [key: string]: any };
}

/**
* Represents a {@link https://terraform.io/providers/builtin/terraform/latest/docs/resources/data terraform_data}
*/
export class Data extends cdktf.TerraformResource {

  // =================
  // STATIC PROPERTIES
  // =================
  public static readonly tfResourceType = "terraform_data";

  // ==============
  // STATIC Methods
  // ==============
  /**
  * Generates CDKTF code for importing a Data resource upon running "cdktf plan <stack-name>"
  * @param scope The scope in which to define this construct
  * @param importToId The construct id used in the generated config for the Data to import
  * @param importFromId The id of the existing Data that should be imported. Refer to the {@link https://terraform.io/providers/builtin/terraform/latest/docs/resources/data#import import section} in the documentation of this resource for the id to use
  * @param provider? Optional instance of the provider where the Data to import is found
  */
  public static generateConfigForImport(scope: Construct, importToId: string, importFromId: string, provider?: cdktf.TerraformProvider) {
        return new cdktf.ImportableResource(scope, importToId, { terraformResourceType: "terraform_data", importId: importFromId, provider });
      }

  // ===========
  // INITIALIZER
  // ===========

  /**
  * Create a new {@link https://terraform.io/providers/builtin/terraform/latest/docs/resources/data terraform_data} Resource
  *
  * @param scope The scope in which to define this construct
  * @param id The scoped construct ID. Must be unique amongst siblings in the same scope
  * @param options DataConfig = {}
  */
  public constructor(scope: Construct, id: string, config: DataConfig = {}) {
    super(scope, id, {
      terraformResourceType: 'terraform_data',
      terraformGeneratorMetadata: {
        providerName: 'terraform'
      },
      provider: config.provider,
      dependsOn: config.dependsOn,
      count: config.count,
      lifecycle: config.lifecycle,
      provisioners: config.provisioners,
      connection: config.connection,
      forEach: config.forEach
    });
    this._input = config.input;
    this._triggersReplace = config.triggersReplace;
  }

  // ==========
  // ATTRIBUTES
  // ==========

  // id - computed: true, optional: false, required: false
  public get id() {
    return this.getStringAttribute('id');
  }

  // input - computed: false, optional: true, required: false
  private _input?: { [key: string]: any }; 
  public get input() {
    return this.getAnyMapAttribute('input');
  }
  public set input(value: { [key: string]: any }) {
    this._input = value;
  }
  public resetInput() {
    this._input = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get inputInput() {
    return this._input;
  }

  // output - computed: true, optional: false, required: false
  private _output = new cdktf.AnyMap(this, "output");
  public get output() {
    return this._output;
  }

  // triggers_replace - computed: false, optional: true, required: false
  private _triggersReplace?: { [key: string]: any }; 
  public get triggersReplace() {
    return this.getAnyMapAttribute('triggers_replace');
  }
  public set triggersReplace(value: { [key: string]: any }) {
    this._triggersReplace = value;
  }
  public resetTriggersReplace() {
    this._triggersReplace = undefined;
  }
  // Temporarily expose input value. Use with caution.
  public get triggersReplaceInput() {
    return this._triggersReplace;
  }

  // =========
  // SYNTHESIS
  // =========

  protected synthesizeAttributes(): { [name: string]: any } {
    return {
      input: cdktf.hashMapper(cdktf.anyToTerraform)(this._input),
      triggers_replace: cdktf.hashMapper(cdktf.anyToTerraform)(this._triggersReplace),
    };
  }

  protected synthesizeHclAttributes(): { [name: string]: any } {
    const attrs = {
      input: {
        value: cdktf.hashMapperHcl(cdktf.anyToHclTerraform)(this._input),
        isBlock: false,
        type: "map",
        storageClassType: "anyMap",
      },
      triggers_replace: {
        value: cdktf.hashMapperHcl(cdktf.anyToHclTerraform)(this._triggersReplace),
        isBlock: false,
        type: "map",
        storageClassType: "anyMap",
      },
    };

    // remove undefined attributes
    return Object.fromEntries(Object.entries(attrs).filter(([_, value]) => value !== undefined && value.value !== undefined ))
  }
}
