from tortoise import migrations
from tortoise.migrations import operations as ops
from softbrik_inventory.models import CountStatus, LocationKind, MovementKind, ReservationStatus, Tracking
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index

class Migration(migrations.Migration):
    dependencies = [('accounts', '0001_initial')]

    initial = True

    operations = [
        ops.CreateModel(
            name='Location',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('name', fields.CharField(max_length=200)),
                ('parent', fields.ForeignKeyField('inventory.Location', source_field='parent_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('path', fields.CharField(max_length=1000)),
                ('kind', fields.CharEnumField(default=LocationKind.INTERNAL, description='INTERNAL: internal\nSUPPLIER: supplier\nCUSTOMER: customer\nLOSS: loss', enum_type=LocationKind, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'inventory_location', 'app': 'inventory', 'unique_together': (('team', 'path'),), 'pk_attr': 'id', 'table_description': 'A place stock is in: internal ones form a tree, virtual ones stand for the outside.'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='Product',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('sku', fields.CharField(max_length=64)),
                ('name', fields.CharField(max_length=200)),
                ('description', fields.TextField(default='', unique=False)),
                ('category', fields.CharField(default='', max_length=100)),
                ('unit', fields.CharField(default='pcs', max_length=20)),
                ('barcode', fields.CharField(default='', max_length=64)),
                ('tracking', fields.CharEnumField(default=Tracking.NONE, description='NONE: none\nLOT: lot\nSERIAL: serial', enum_type=Tracking, max_length=8)),
                ('reorder_point', fields.IntField(null=True)),
                ('reorder_quantity', fields.IntField(default=0)),
                ('lead_time_days', fields.IntField(default=0)),
                ('active', fields.BooleanField(default=True)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'inventory_product', 'app': 'inventory', 'unique_together': (('team', 'sku'),), 'pk_attr': 'id'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='Balance',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('inventory.Product', source_field='product_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('location', fields.ForeignKeyField('inventory.Location', source_field='location_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('lot', fields.CharField(default='', max_length=64)),
                ('on_hand', fields.IntField(default=0)),
                ('reserved', fields.IntField(default=0)),
                ('internal', fields.BooleanField(default=True)),
            ],
            options={'table': 'inventory_balance', 'app': 'inventory', 'unique_together': (('product', 'location', 'lot'),), 'pk_attr': 'id', 'table_description': 'What the ledger says is at a location, per product and lot (locked to change it).'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='LowStock',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('inventory.Product', source_field='product_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('since', fields.DatetimeField(auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'inventory_low_stock', 'app': 'inventory', 'unique_together': (('product',),), 'pk_attr': 'id', 'table_description': 'A product at or below its reorder point: alerted once per crossing, until restocked.'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='Movement',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('inventory.Product', source_field='product_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('from_location', fields.ForeignKeyField('inventory.Location', source_field='from_location_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('to_location', fields.ForeignKeyField('inventory.Location', source_field='to_location_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('lot', fields.CharField(default='', max_length=64)),
                ('quantity', fields.IntField()),
                ('kind', fields.CharEnumField(description='RECEIPT: receipt\nSHIPMENT: shipment\nTRANSFER: transfer\nADJUSTMENT: adjustment\nCOUNT: count\nOPENING: opening\nREVERSAL: reversal', enum_type=MovementKind, max_length=12)),
                ('posted_at', fields.DatetimeField(db_index=True, auto_now=False, auto_now_add=False)),
                ('reference', fields.CharField(default='', max_length=200)),
                ('reverses', fields.OneToOneField('inventory.Movement', source_field='reverses_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('idempotency_key', fields.CharField(null=True, max_length=100)),
                ('actor_id', fields.IntField(null=True)),
            ],
            options={'table': 'inventory_movement', 'app': 'inventory', 'unique_together': (('team', 'idempotency_key'),), 'indexes': [Index(fields=['product_id', 'to_location_id']), Index(fields=['product_id', 'from_location_id'])], 'pk_attr': 'id', 'table_description': 'One line of the ledger: `quantity` of a product (and lot) from one location to another.'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='Reservation',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('product', fields.ForeignKeyField('inventory.Product', source_field='product_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('location', fields.ForeignKeyField('inventory.Location', source_field='location_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('lot', fields.CharField(default='', max_length=64)),
                ('quantity', fields.IntField()),
                ('reference', fields.CharField(default='', max_length=200)),
                ('status', fields.CharEnumField(default='active', description='ACTIVE: active\nRELEASED: released\nSHIPPED: shipped', enum_type=ReservationStatus, max_length=10)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('idempotency_key', fields.CharField(null=True, max_length=100)),
            ],
            options={'table': 'inventory_reservation', 'app': 'inventory', 'unique_together': (('team', 'idempotency_key'),), 'pk_attr': 'id'},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='Settings',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('allow_negative', fields.BooleanField(default=False)),
            ],
            options={'table': 'inventory_settings', 'app': 'inventory', 'unique_together': (('team',),), 'pk_attr': 'id', 'table_description': "The team's inventory choices."},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='StockCount',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('location', fields.ForeignKeyField('inventory.Location', source_field='location_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('since_movement_id', fields.BigIntField(default=0)),
                ('status', fields.CharEnumField(default=CountStatus.OPEN, description='OPEN: open\nAPPLIED: applied\nFLAGGED: flagged', enum_type=CountStatus, max_length=8)),
                ('started_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'inventory_count', 'app': 'inventory', 'pk_attr': 'id', 'table_description': "A count of one location, taken after `since_movement_id` (the ledger's last line then)."},
            bases=['TeamScoped'],
        ),
        ops.CreateModel(
            name='CountLine',
            fields=[
                ('team', fields.ForeignKeyField('accounts.Team', source_field='team_id', db_index=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('count', fields.ForeignKeyField('inventory.StockCount', source_field='count_id', db_constraint=True, to_field='id', related_name='lines', on_delete=OnDelete.CASCADE)),
                ('product', fields.ForeignKeyField('inventory.Product', source_field='product_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.NO_ACTION)),
                ('lot', fields.CharField(default='', max_length=64)),
                ('counted', fields.IntField()),
                ('expected', fields.IntField()),
                ('moved', fields.BooleanField(default=False)),
            ],
            options={'table': 'inventory_count_line', 'app': 'inventory', 'pk_attr': 'id'},
            bases=['TeamScoped'],
        ),
    ]
