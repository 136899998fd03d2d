"""Derive a three-level category path from a product title.

Neither Icecat nor the Home Depot titles carry a category, yet the ranking needs one (caps,
coverage, calibration). The product type is in the title, so a small ordered rule set maps
title phrases to a path ``L1/L2/L3``. The rule is the same for every catalog:

1. Lower-case the title and drop a leading brand (``brand`` argument), so "HP" or "Toro"
   never match a rule.
2. Find every rule phrase (whole words; a phrase may end in an optional plural ``s``).
3. Choose one match by the catalog's *head position*:
   - ``first`` (Icecat): electronics titles name the type right after the model and append
     specifications ("HP Pavilion dv7 **Notebook** Silver ... 250 GB HDD"), so the match that
     starts earliest wins.
   - ``last`` (Home Depot): home-improvement titles are head-final noun phrases ("Delta Vero
     1-Handle Shower Only **Faucet Trim Kit** in Chrome (Valve Not Included)"), so the title is
     first cut at " in ", " with ", " for ", "(" or ", " and the match that ends last wins
     (when the part before the cut matches nothing, the whole title is used).
4. Ties go to the longer phrase ("notebook case" beats "notebook"), then to rule order.
5. No match: ``Other`` (one level).

Coverage on the shared data (non-``Other``): about 87% of Icecat and 90% of Home Depot titles
(measured by ``tests/unit/indexer/test_categorize.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["HOMEDEPOT_RULES", "ICECAT_RULES", "OTHER", "RuleSet", "categorize", "split_path"]

OTHER = "Other"
HeadPosition = Literal["first", "last"]

_ICECAT: list[tuple[str, str]] = [
    # printing supplies (longest phrases first only for readability; ties use length anyway)
    ("toner cartridge|toner|toner collector|waste toner", "Printing/Supplies/Toner"),
    (
        "ink cartridge|ink|print cartridge|printhead|print head|ink tank|singlepack|twinpack|"
        "multipack",
        "Printing/Supplies/Ink",
    ),
    ("drum|printer drum|drum unit|imaging drum|drum kit|imaging unit", "Printing/Supplies/Drum"),
    (
        "fuser|fuser kit|maintenance kit|transfer kit|roller kit|transfer belt|transfer roller",
        "Printing/Supplies/Maintenance",
    ),
    ("original", "Printing/Supplies/Cartridge"),
    ("ribbon|printer ribbon|label-making tape|thermal tape", "Printing/Supplies/Ribbon & tape"),
    (
        "photo paper|printing paper|paper|large format media|film|transparency",
        "Printing/Paper/Paper & film",
    ),
    ("labels|label|address labels|multi-purpose labels", "Printing/Paper/Labels"),
    (
        "printer|laser printer|inkjet printer|multifunctional|mfp|all-in-one printer|"
        "label printer|photo printer|large format printer|plotter",
        "Printing/Printers/Printer",
    ),
    ("scanner|document scanner|flatbed scanner", "Printing/Printers/Scanner"),
    (
        "tray|paper tray|feeder|sheet feeder|envelope feeder|duplex unit|finisher|stapler",
        "Printing/Printers/Printer accessory",
    ),
    # computers
    ("notebook|laptop|netbook|chromebook|ultrabook|hybrid", "Computers/Laptops/Notebook"),
    (
        "notebook case|laptop case|briefcase|backpack|sleeve case|notebook bag|messenger case|"
        "carrying case|case for notebook|laptop bag",
        "Computers/Laptops/Bag & case",
    ),
    ("docking station|port replicator|notebook dock|quickdock|dock", "Computers/Laptops/Dock"),
    (
        "pc|desktop|workstation|all-in-one pc|mini pc|thin client|barebone|nettop|tower pc",
        "Computers/Desktops/PC",
    ),
    ("server|rack server|tower server|blade server", "Computers/Servers/Server"),
    ("tablet|ipad|handheld|pda|pocket pc", "Computers/Tablets/Tablet"),
    ("processor|cpu", "Components/Processors/Processor"),
    ("memory module|memory|ram|dimm|so-dimm", "Components/Memory/Memory module"),
    (
        "hdd|hard drive|hard disk drive|internal hard drive|ssd|solid state drive|"
        "solid-state drive|drive",
        "Components/Storage/Drive",
    ),
    (
        "external hard drive|usb flash drive|flash drive|memory card|flash memory card|card reader",
        "Components/Storage/Removable storage",
    ),
    (
        "optical disc drive|dvd drive|dvd-rom drive|optical drive|blu-ray drive|dvd burner",
        "Components/Storage/Optical drive",
    ),
    (
        "cd-r|dvd-r|dvd+r|bd-r|cd-rw|dvd-rw|blank dvd|blank cd|data tape|tape cartridge|lto",
        "Components/Storage/Media",
    ),
    (
        "motherboard|desktop board|server board|server/workstation board|mainboard",
        "Components/Boards/Motherboard",
    ),
    ("graphics card|video card", "Components/Boards/Graphics card"),
    (
        "interface cards|interface card|network card|networking card|network interface card|"
        "controller|"
        "raid controller|adapter card|host bus adapter|sound card",
        "Components/Boards/Expansion card",
    ),
    ("power supply unit|power supply|psu", "Components/Power/Power supply"),
    ("computer case|chassis|enclosure|drive enclosure|hdd enclosure", "Components/Cases/Case"),
    ("fan|cooler|heatsink|heat sink|cooling fan", "Components/Cooling/Fan"),
    # peripherals
    (
        "monitor|display|lcd monitor|computer monitor|flat panel|led display|touch screen monitor",
        "Peripherals/Displays/Monitor",
    ),
    ("keyboard|keyboard cover|keypad", "Peripherals/Input/Keyboard"),
    ("mouse|mice|trackball|touchpad|presenter", "Peripherals/Input/Mouse"),
    ("webcam|web camera", "Peripherals/Input/Webcam"),
    ("kvm switch|kvm|kvm console|kvm extender", "Peripherals/KVM/KVM switch"),
    ("projector|projector lamp|projection screen", "Peripherals/Projection/Projector"),
    (
        "privacy filter|screen protector|display privacy filter|anti-glare filter",
        "Peripherals/Displays/Screen filter",
    ),
    (
        "mount|wall mount|monitor mount|flat panel mount|monitor arm|mount arm|stand|"
        "monitor stand|notebook stand|bracket|flat screen|mounting kit",
        "Peripherals/Displays/Mount & stand",
    ),
    # networking
    (
        "switch|network switch|managed switch|unmanaged switch|poe switch",
        "Networking/Switching/Switch",
    ),
    (
        "router|wireless router|modem|access point|wireless access point|range extender|gateway",
        "Networking/Wireless/Router & access point",
    ),
    (
        "network adapter|ethernet adapter|wireless adapter|wlan adapter|usb network adapter",
        "Networking/Adapters/Network adapter",
    ),
    ("transceiver|media converter|sfp|gbic|converter", "Networking/Adapters/Transceiver"),
    (
        "patch panel|patch cable|networking cable|ethernet cable|crossover cable|network cable|"
        "patch cord",
        "Cables/Network/Patch cable",
    ),
    (
        "fiber optic cable|fibre optic cable|fiber patch|fibre patch|optic cable|fiber cable|"
        "fibre cable",
        "Cables/Network/Fiber cable",
    ),
    # cables and adapters (generic "cable" last: longer phrases win ties)
    ("usb cable|usb adapter|usb hub|hub|usb extension", "Cables/USB/USB cable & hub"),
    (
        "hdmi cable|displayport cable|dvi cable|vga cable|video cable|monitor cable|"
        "video adapter|video splitter|video extender|display adapter",
        "Cables/Video/Video cable",
    ),
    (
        "audio cable|stereo audio cable|audio adapter|rca cable|speaker cable|audio extender",
        "Cables/Audio/Audio cable",
    ),
    (
        "power cable|power cord|power adapter|ac adapter|power extension|extension cord|"
        "power splitter|adapter inverter|power inverter|power adapter inverter",
        "Power/Adapters/Power cable & adapter",
    ),
    (
        "serial cable|parallel cable|scsi cable|sata cable|ata cable|serial adapter|"
        "null modem|gender changer|coupler|y-cable",
        "Cables/Data/Data cable",
    ),
    ("cable|cables|cord|lead|wire|coax|coaxial cable|extension cable", "Cables/Other/Cable"),
    (
        "adapter|cable adapter|connector|splitter|extender|cable gender changer",
        "Cables/Other/Adapter & connector",
    ),
    (
        "cable tie|cable management|cable organizer|cable clip|cable tray",
        "Cables/Other/Cable management",
    ),
    # power
    ("ups|uninterruptible power supply|smart-ups|back-ups", "Power/UPS/UPS"),
    (
        "ups battery|battery|batteries|rechargeable battery|single-use battery|battery pack|"
        "replacement battery cartridge|power bank",
        "Power/Batteries/Battery",
    ),
    (
        "pdu|power distribution unit|surge protector|power strip|outlet strip|socket-outlet",
        "Power/Distribution/PDU & surge protector",
    ),
    ("battery charger|charger", "Power/Adapters/Charger"),
    # racks
    (
        "rack|rack cabinet|rack accessory|rack shelf|rack rail|rack mount|cabinet|"
        "netshelter|blanking panel|rack panel",
        "Networking/Racks/Rack & accessory",
    ),
    # audio/video and phones
    ("headphones|headphone|headset|earphones|earbuds|in-ear", "Audio & video/Audio/Headphones"),
    (
        "speaker|speakers|soundbar|sound bar|portable speaker|subwoofer",
        "Audio & video/Audio/Speaker",
    ),
    ("microphone", "Audio & video/Audio/Microphone"),
    (
        "mp3 player|mp4 player|media player|dvd player|blu-ray player|player|radio|cd player|"
        "dictaphone|voice recorder",
        "Audio & video/Players/Player",
    ),
    ("tv|television|led tv|lcd tv|smart tv", "Audio & video/TV/TV"),
    ("remote control|remote", "Audio & video/TV/Remote control"),
    (
        "camera|digital camera|compact camera|bridge camera|camcorder|action camera|"
        "ip camera|security camera",
        "Cameras/Cameras/Camera",
    ),
    ("camera lens|lens|lens cap|lens hood", "Cameras/Accessories/Lens"),
    ("camera bag|tripod|flash|camera flash", "Cameras/Accessories/Camera accessory"),
    (
        "smartphone|mobile phone|phone|telephone|dect phone|ip phone|conference phone",
        "Phones/Phones/Phone",
    ),
    ("phone case|mobile phone case|screen protector for", "Phones/Accessories/Phone case"),
    # software, services
    ("software|license|licence|upgrade license", "Software/Licenses/Software"),
    (
        "warranty|care pack|service|support|installation service|extended warranty|"
        "return program|hw supp|hw support|onsite",
        "Services/Support/Warranty & service",
    ),
    # home and small appliances (Icecat has a few)
    (
        "coffee maker|coffee machine|espresso machine|pod coffee machine|drip coffee maker|"
        "kettle|toaster|blender|fryer|deep fryer|grill|mixer|juicer|food processor",
        "Home/Kitchen/Kitchen appliance",
    ),
    (
        "shaver|trimmer|hair dryer|epilator|toothbrush|hair straightener|hair clipper",
        "Home/Personal care/Personal care",
    ),
    ("vacuum cleaner|vacuum|iron|steam iron", "Home/Household/Household appliance"),
    ("light bulb|lamp|led lamp|bulb|lighting|flashlight|torch", "Home/Lighting/Lamp"),
    (
        "doll|toy|toys|playhouse|puzzle|game|board game|kids' craft kit|building set",
        "Toys/Toys/Toy",
    ),
    (
        "storage box|file|binder|folder|ring binder|notebook pad|pen|pencil|marker|stapler|"
        "calculator|shredder|laminator|whiteboard|office supplies|hole punch|punch",
        "Office/Supplies/Office supply",
    ),
    ("bag|case|cover|skin|protective case|carrying bag|pouch", "Accessories/Cases/Bag & case"),
    ("cleaning kit|cleaning|cleaner|wipes|compressed air", "Accessories/Cleaning/Cleaning"),
    (
        "anti static|floor mat|mat|mouse pad|wrist rest|footrest",
        "Accessories/Ergonomics/Mat & rest",
    ),
    ("security lock|cable lock|lock|security", "Accessories/Security/Lock"),
    ("tool|tool kit|crimper|crimp tool|cable tester|tester|screwdriver", "Accessories/Tools/Tool"),
]

_HOMEDEPOT: list[tuple[str, str]] = [
    # paint
    (
        "paint|interior paint|exterior paint|spray paint|paint and primer|enamel|chalky finish",
        "Paint/Paint/Paint",
    ),
    (
        "primer|sealer|and sealer|sealant|caulk|coating|deckover|waterproofer|concrete coating",
        "Paint/Coatings/Primer & sealer",
    ),
    ("stain|wood stain|deck stain|finish|polyurethane|varnish", "Paint/Coatings/Stain & finish"),
    ("sample|home sample|color sample|paint sample", "Paint/Paint/Sample"),
    (
        "brush|roller|paint brush|paint roller|roller cover|tray liner|paint tray|drop cloth",
        "Paint/Supplies/Painting supply",
    ),
    ("wallpaper|wall decal|mural", "Paint/Wall decor/Wallpaper"),
    # bath
    (
        "faucet|bathroom faucet|kitchen faucet|tub faucet|shower faucet|faucet trim kit|"
        "trim kit|sprayer|pull-down sprayer",
        "Bath/Faucets/Faucet",
    ),
    (
        "showerhead|shower head|hand shower|handshower|shower system|shower kit|shower arm|"
        "spray head|"
        "body spray|rain showerhead",
        "Bath/Showers/Showerhead",
    ),
    (
        "shower door|tub door|shower enclosure|shower stall|shower base|shower pan|"
        "shower wall|shower curtain|curtain rod|shower rod",
        "Bath/Showers/Shower enclosure",
    ),
    (
        "toilet|elongated toilet|round front toilet|toilet seat|toilet tank|flush valve|"
        "fill valve|flapper|bidet",
        "Bath/Toilets/Toilet",
    ),
    (
        "vanity|double vanity|vanity top|vanity cabinet|bath vanity|vanity combo",
        "Bath/Vanities/Vanity",
    ),
    (
        "sink|bathroom sink|vessel sink|pedestal sink|kitchen sink|utility sink|bar sink|"
        "drop-in sink|undermount sink",
        "Bath/Sinks/Sink",
    ),
    ("tub|bathtub|whirlpool tub|soaking tub|alcove bathtub", "Bath/Tubs/Bathtub"),
    ("medicine cabinet|mirror|wall mirror|vanity mirror", "Bath/Accessories/Mirror & cabinet"),
    (
        "towel bar|towel ring|towel rack|paper holder|toilet paper holder|robe hook|"
        "grab bar|soap dispenser|dispenser|shelf|bath shelf|tissue holder",
        "Bath/Accessories/Bath hardware",
    ),
    ("bath fan|exhaust fan|ventilation fan", "Bath/Ventilation/Bath fan"),
    # kitchen and appliances
    (
        "refrigerator|door refrigerator|freezer refrigerator|french door refrigerator|"
        "freezer|chest freezer|mini fridge|wine cooler|beverage cooler|ice maker",
        "Appliances/Refrigeration/Refrigerator",
    ),
    (
        "range|gas range|electric range|cooktop|wall oven|oven|range hood|hood|microwave",
        "Appliances/Cooking/Range & oven",
    ),
    (
        "washer|load washer|front load washer|top load washer|dryer|electric dryer|gas dryer|"
        "washer and dryer",
        "Appliances/Laundry/Washer & dryer",
    ),
    (
        "coffee maker|toaster oven|toaster|blender|mixer|kettle|slow cooker|food processor",
        "Appliances/Small appliances/Small appliance",
    ),
    (
        "dishwasher|control dishwasher|garbage disposal|disposer|disposal",
        "Appliances/Kitchen/Dishwasher & disposal",
    ),
    (
        "water heater|tankless water heater|water softener|water filter|filtration system|"
        "water filtration",
        "Plumbing/Water/Water heater & filter",
    ),
    (
        "cabinet|base cabinet|wall cabinet|kitchen cabinet|pantry cabinet|cabinet only|"
        "countertop|laminate countertop|backsplash",
        "Kitchen/Cabinets/Cabinet",
    ),
    (
        "knob|cabinet knob|pull|cup pull|drawer pull|handle|cabinet hardware|drawer slide",
        "Kitchen/Cabinets/Cabinet hardware",
    ),
    # lighting and electrical
    (
        "light bulb|bulb|led bulb|cfl bulb|halogen bulb|flood light bulb|tube|fluorescent tube",
        "Lighting/Bulbs/Light bulb",
    ),
    (
        "ceiling fan|fan|pedestal fan|box fan|tower fan|attic fan|fan light kit|downrod",
        "Lighting/Fans/Ceiling fan",
    ),
    (
        "light|light fixture|fixture|flush mount|semi-flush mount|pendant|chandelier|"
        "vanity light|bath light|track lighting|recessed lighting|sconce|wall sconce|"
        "light kit|lighting|rope lighting|strip light|under cabinet light",
        "Lighting/Fixtures/Light fixture",
    ),
    (
        "lantern|wall lantern|landscape light|path light|flood light|floodlight|"
        "security light|security-light|post light|solar light|string light|light set|spot light",
        "Lighting/Outdoor/Outdoor light",
    ),
    ("lamp|table lamp|floor lamp|desk lamp", "Lighting/Lamps/Lamp"),
    ("flashlight|work light|headlamp|emergency light", "Lighting/Portable/Flashlight"),
    (
        "switch|dimmer|light switch|outlet|receptacle|gfci outlet|wall plate|plate|"
        "cover plate|outlet box|junction box|box",
        "Electrical/Wiring devices/Switch & outlet",
    ),
    (
        "breaker|circuit breaker|load center|panel|fuse|disconnect|meter",
        "Electrical/Power/Breaker & panel",
    ),
    (
        "wire|cable|romex|extension cord|cord|power strip|surge protector|conduit|connector|"
        "wire connector|connectors",
        "Electrical/Wire/Wire & cord",
    ),
    (
        "timer|thermostat|doorbell|smoke alarm|smoke detector|carbon monoxide alarm|alarm|"
        "detector|sensor|motion sensor|security camera|camera",
        "Electrical/Controls/Thermostat & alarm",
    ),
    (
        "battery|batteries|charger|battery charger|generator|portable generator|solar panel",
        "Electrical/Power/Battery & generator",
    ),
    # tools
    (
        "drill|hammer drill|impact driver|driver|impact wrench|drill/driver|rotary hammer",
        "Tools/Power tools/Drill & driver",
    ),
    (
        "saw|circular saw|miter saw|table saw|reciprocating saw|jig saw|jigsaw|chainsaw|"
        "chain saw|hand saw|hack saw|hacksaw",
        "Tools/Power tools/Saw",
    ),
    (
        "sander|grinder|angle grinder|router|planer|oscillating tool|multi-tool|rotary tool|"
        "heat gun|glue gun|gun|nailer|stapler|brad nailer|air compressor|compressor",
        "Tools/Power tools/Power tool",
    ),
    ("combo kit|tool kit|tool set|kit", "Tools/Kits/Tool kit"),
    (
        "blade|saw blade|blades|bit|drill bit|bit set|router bit|disc|grinding wheel|"
        "sanding disc|sandpaper|attachment|accessory kit",
        "Tools/Accessories/Blade & bit",
    ),
    (
        "wrench|socket|socket set|pliers|screwdriver|hammer|tape measure|level|utility knife|"
        "knife|cutter|chisel|clamp|pry bar|tool|hand tool|scraper|trowel|stud finder",
        "Tools/Hand tools/Hand tool",
    ),
    (
        "tool box|toolbox|tool chest|tool bag|tool belt|pouch|storage|organizer|tool storage",
        "Tools/Storage/Tool storage",
    ),
    ("ladder|step stool|step ladder|extension ladder|scaffold", "Tools/Ladders/Ladder"),
    (
        "vacuum|wet/dry vac|shop vac|wet dry vac|pressure washer|blower|leaf blower",
        "Tools/Cleaning/Vacuum & washer",
    ),
    # outdoor, garden
    (
        "mower|lawn mower|riding mower|push mower|trimmer|string trimmer|hedge trimmer|edger|"
        "tiller|cultivator|snow blower|snow thrower",
        "Outdoor/Power equipment/Mower & trimmer",
    ),
    ("grill|gas grill|charcoal grill|smoker|grill cover|griddle", "Outdoor/Grilling/Grill"),
    (
        "patio chair|chair|chairs|lounge chair|dining chair|chaise lounge|bench|table|"
        "dining set|patio set|conversation set|sofa|loveseat|ottoman|hammock|swing|"
        "rocking chair|bar stool|stool",
        "Outdoor/Furniture/Patio furniture",
    ),
    (
        "cushion|cushions|chair cushion|pillow|throw pillow|seat cushion",
        "Outdoor/Furniture/Cushion",
    ),
    (
        "gazebo|pergola|canopy|awning|umbrella|patio umbrella|shade sail|shade|sunshade",
        "Outdoor/Shade/Gazebo & canopy",
    ),
    (
        "fence|fencing|fence panel|fence post|post|fence gate|gate|picket|lattice|t-post|"
        "stake|stakes|post cap|trellis|arbor|edging|landscape edging|remesh",
        "Outdoor/Fencing/Fence & gate",
    ),
    ("shed|storage shed|deck box|greenhouse", "Outdoor/Storage/Shed"),
    (
        "hose|garden hose|hose reel|nozzle|sprinkler|spray nozzle|irrigation|drip irrigation|timer",
        "Outdoor/Watering/Hose & sprinkler",
    ),
    (
        "planter|pot|flower pot|plant|tree|shrub|seed|seeds|grass seed|bulbs|perennial|"
        "annual|rose|christmas tree|wreath|garland",
        "Outdoor/Garden/Plant & planter",
    ),
    (
        "soil|mulch|potting mix|fertilizer|plant food|compost|weed killer|killer|insecticide|"
        "herbicide|pesticide|repellent|trap|bait",
        "Outdoor/Garden/Soil & lawn care",
    ),
    (
        "paver|pavers|stone|flagstone|patio stone|retaining wall block|block|brick|"
        "concrete|mortar|cement|stucco|grout|gravel|sand",
        "Building/Masonry/Concrete & paver",
    ),
    ("mailbox|house number|address plaque|sign|flag|flag pole", "Outdoor/Decor/Mailbox & sign"),
    (
        "fireplace|electric fireplace|fire pit|stove|gas stove|heater|space heater|"
        "patio heater|wall heater|baseboard heater",
        "Heating/Heating/Heater & fireplace",
    ),
    (
        "air conditioner|window air conditioner|portable air conditioner|dehumidifier|"
        "humidifier|air purifier|evaporative cooler|cooler",
        "Heating/Cooling/Air conditioner",
    ),
    ("air filter|furnace filter|filter|filters", "Heating/Filters/Air filter"),
    (
        "register|vent|grille|air vent|return air grille|duct|ducting|damper",
        "Heating/Ducting/Register & vent",
    ),
    # flooring and walls
    (
        "tile|wall tile|floor tile|mosaic tile|ceramic tile|porcelain tile|mosaic|"
        "ceiling tile|backsplash tile|tile trim",
        "Flooring/Tile/Tile",
    ),
    (
        "flooring|hardwood flooring|laminate flooring|vinyl plank flooring|vinyl flooring|"
        "engineered hardwood|plank|vinyl plank|floor|underlayment|carpet|carpet tile",
        "Flooring/Floors/Flooring",
    ),
    ("rug|area rug|runner|door mat|mat|doormat|rug pad", "Flooring/Rugs/Rug & mat"),
    (
        "moulding|molding|t-molding|reducer molding|round molding|quarter round|"
        "casing|baseboard|trim|crown moulding|chair rail|stair nose|threshold|transition strip|"
        "tread|stair tread|baluster|newel|handrail|rail",
        "Building/Millwork/Moulding & trim",
    ),
    (
        "drywall|paneling|wainscot|wall panel|insulation|batts|sheathing|plywood|osb|"
        "board|lumber|stud|beam|joist|sheet|siding|roofing|shingle|shingles|flashing|"
        "gutter|downspout|underlayment membrane",
        "Building/Materials/Lumber & panel",
    ),
    # doors and windows
    (
        "door|front door|interior door|exterior door|prehung door|door slab|slab|patio door|"
        "storm door|security door|screen door|bi-fold door|barn door|garage door|closet door|"
        "french door|sliding door",
        "Doors & windows/Doors/Door",
    ),
    (
        "window|windows|double hung window|casement window|sliding window|skylight|"
        "glass block|window film|film",
        "Doors & windows/Windows/Window",
    ),
    (
        "blind|blinds|shade|roller shade|rollup shade|cellular shade|shutter|shutters|"
        "curtain|curtains|drapery|valance|curtain rod|drapery rod|rod|rod kit|window treatment",
        "Doors & windows/Window treatments/Blind & curtain",
    ),
    (
        "lock|deadbolt|door lock|lockset|knob set|lever|door lever|handleset|entry lever|"
        "passage knob|privacy knob|keyed entry",
        "Doors & windows/Hardware/Lock & lever",
    ),
    (
        "hinge|door hinge|door stop|doorstop|door closer|weatherstrip|door sweep|kick plate|"
        "strike plate|latch|hasp",
        "Doors & windows/Hardware/Door hardware",
    ),
    # plumbing
    (
        "pipe|fitting|elbow|tee|coupling|adapter|reducer|cap|plug|nipple|bushing|union|"
        "flange|pvc pipe|copper pipe|pex pipe|pex",
        "Plumbing/Pipe/Pipe & fitting",
    ),
    (
        "valve|ball valve|shut-off valve|gate valve|check valve|stop valve|supply line|"
        "connector hose",
        "Plumbing/Valves/Valve",
    ),
    (
        "pump|sump pump|utility pump|well pump|drain|drain cleaner|auger|plunger|p-trap|trap",
        "Plumbing/Drains/Pump & drain",
    ),
    # hardware and fasteners
    (
        "screw|screws|bolt|bolts|nut|nuts|washer|washers|nail|nails|anchor|anchors|rivet|"
        "rivets|fastener|fasteners|staples",
        "Hardware/Fasteners/Fastener",
    ),
    (
        "bracket|angle|hanger|joist hanger|strap|tie|connector plate|plate|brace|corner brace|"
        "shelf bracket|standard",
        "Hardware/Brackets/Bracket & hanger",
    ),
    (
        "hook|hooks|hanger hook|bike hook|utility hook|chain|rope|cable tie|bungee|tie-down|"
        "ratchet strap",
        "Hardware/Rope & chain/Hook & chain",
    ),
    (
        "shelving unit|shelving|shelf|shelves|storage rack|rack|wire shelf|garage storage|"
        "workbench|cabinet organizer|closet organizer|closet system|storage bin|bin|basket|"
        "container|tote|drawer",
        "Storage/Shelving/Shelving & storage",
    ),
    (
        "trash can|garbage can|waste basket|recycling bin|trash bags|bag|bags",
        "Storage/Waste/Trash can",
    ),
    ("cart|hand truck|dolly|wheelbarrow|utility cart|wagon", "Storage/Moving/Cart"),
    (
        "cleaner|cleaning|all-purpose cleaner|degreaser|disinfectant|wipes|sponge|mop|broom|"
        "dustpan|scrub brush",
        "Cleaning/Cleaning/Cleaner",
    ),
    (
        "adhesive|glue|epoxy|tape|duct tape|painters tape|masking tape|wood filler|putty|"
        "spackle|patch",
        "Building/Adhesives/Adhesive & tape",
    ),
    (
        "safety glasses|gloves|respirator|mask|ear plugs|hard hat|knee pads|vest|"
        "first aid kit|fire extinguisher",
        "Safety/Safety/Safety gear",
    ),
    (
        "art|wall art|canvas art|clock|wall clock|frame|picture frame|mirror frame|"
        "decorative|vase|candle|figurine",
        "Home decor/Decor/Wall art & decor",
    ),
    (
        "bed|headboard|mattress|dresser|nightstand|bookcase|desk|tv stand|console table|"
        "coffee table|accent table|cabinet furniture|futon|office chair",
        "Home decor/Furniture/Furniture",
    ),
]


@dataclass(frozen=True)
class RuleSet:
    """Phrases mapped to paths, plus where the head noun sits in this catalog's titles."""

    name: str
    rules: tuple[tuple[str, str], ...]
    head: HeadPosition

    def compiled(self) -> list[tuple[re.Pattern[str], str, int]]:
        return _compile(self)


ICECAT_RULES = RuleSet("icecat", tuple(_ICECAT), "first")
HOMEDEPOT_RULES = RuleSet("homedepot", tuple(_HOMEDEPOT), "last")

_CACHE: dict[str, list[tuple[re.Pattern[str], str, int]]] = {}
_CUT = re.compile(r"\s(?:in|with|for)\s|\(|,\s")


def _compile(ruleset: RuleSet) -> list[tuple[re.Pattern[str], str, int]]:
    cached = _CACHE.get(ruleset.name)
    if cached is not None:
        return cached
    compiled = []
    for order, (phrases, path) in enumerate(ruleset.rules):
        alts = sorted({p.strip() for p in phrases.split("|") if p.strip()}, key=len, reverse=True)
        body = "|".join(re.escape(p) for p in alts)
        # Whole words; an optional plural "s"/"es". "-" counts as part of a word so that
        # "smart-ups" is not read as "ups" by accident (it has its own phrase).
        pattern = re.compile(rf"(?<![\w-])(?:{body})(?:e?s)?(?![\w(-])")
        compiled.append((pattern, path, order))
    _CACHE[ruleset.name] = compiled
    return compiled


def split_path(path: str) -> list[str]:
    """``"A/B/C"`` → ``["A", "B", "C"]`` (blank levels dropped)."""
    return [level.strip() for level in path.split("/") if level.strip()]


def categorize(title: str, ruleset: RuleSet, brand: str | None = None) -> str:
    """The category path of ``title`` under ``ruleset``; ``"Other"`` when no rule matches."""
    text = " ".join(title.lower().split())
    if brand:
        b = brand.lower().strip()
        if b and text.startswith(b):
            text = text[len(b) :]
    if ruleset.head == "last":
        cut = _CUT.search(text)
        if cut and cut.start() > 0:
            head = _best(text[: cut.start()], ruleset)
            if head != OTHER:
                return head
    return _best(text, ruleset)


def _best(text: str, ruleset: RuleSet) -> str:
    best: tuple[int, int, int] | None = None
    best_path = OTHER
    for pattern, path, order in ruleset.compiled():
        for match in pattern.finditer(text):
            length = match.end() - match.start()
            if ruleset.head == "first":
                key = (match.start(), -length, order)
            else:
                key = (-match.end(), -length, order)
            if best is None or key < best:
                best, best_path = key, path
    return best_path
